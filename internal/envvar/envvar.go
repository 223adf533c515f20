// Package envvar holds the one rule for environment variable names, shared
// by ${NAME} expansion in configuration files and by client_secret_env.
package envvar

// ValidName reports whether s is a portable environment variable name
// (POSIX: letters, digits and underscores, not starting with a digit).
func ValidName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
