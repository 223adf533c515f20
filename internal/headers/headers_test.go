package headers

import "testing"

func TestReserved(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Authorization", true},
		{"authorization", true},
		{"COOKIE", true},
		{"x-forwarded-for", true},
		{"X-Forwarded-Client-Cert", true},
		{"x-request-id", true},
		{"Te", true},
		{"X-User-Id", false},
		{"X-Auth-Claims", false},
		{"Forwarded-By", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reserved(tc.name); got != tc.want {
				t.Errorf("Reserved(%q): got %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestIsToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"X-User-Id", true},
		{"GET", true},
		{"x_user.id~!", true},
		{"", false},
		{"X User", false},
		{"X:User", false},
		{"X-Üser", false},
		{"X-User\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := IsToken(tc.in); got != tc.want {
				t.Errorf("IsToken(%q): got %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
