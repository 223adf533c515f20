//go:build soak && race

package soak

// raceEnabled reports a -race build, whose shadow memory multiplies RSS.
const raceEnabled = true
