package serve

import (
	"testing"
	"time"
)

// TestPollDelay: jitter only shortens the interval, by at most a
// quarter; failures double it up to ten intervals or five minutes, and
// never below one interval.
func TestPollDelay(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		failures int
		random   float64
		want     time.Duration
	}{
		{name: "no jitter", interval: 30 * time.Second, want: 30 * time.Second},
		{name: "most jitter", interval: 30 * time.Second, random: 0.9999999, want: 22500000750 * time.Nanosecond},
		{name: "one failure", interval: 30 * time.Second, failures: 1, want: time.Minute},
		{name: "three failures", interval: 30 * time.Second, failures: 3, want: 4 * time.Minute},
		{name: "capped at five minutes", interval: 30 * time.Second, failures: 10, want: 5 * time.Minute},
		{name: "capped at ten intervals", interval: time.Second, failures: 10, want: 10 * time.Second},
		{name: "never below the interval", interval: 10 * time.Minute, failures: 3, want: 10 * time.Minute},
		{name: "many failures do not overflow", interval: time.Second, failures: 1000, want: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pollDelay(tt.interval, tt.failures, tt.random); got != tt.want {
				t.Errorf("pollDelay(%v, %d, %v) = %v, want %v", tt.interval, tt.failures, tt.random, got, tt.want)
			}
		})
	}
}
