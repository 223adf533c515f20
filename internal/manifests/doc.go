// Package manifests holds no code: its tests check the deployment files
// under deploy/ and the Dockerfile against each other and against the
// module, where no other check reaches (no container engine or cluster runs
// in CI), and the documentation's links and quick start against the
// repository. .ci/configs runs them alongside `authgate check` on the same
// configurations.
package manifests
