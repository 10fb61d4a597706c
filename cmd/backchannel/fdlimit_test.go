package main

import (
	"strings"
	"testing"

	"github.com/backchannel/backchannel/config"
)

func TestShareFileLimit(t *testing.T) {
	srv := func(perAddr, maxSockets, reserve int) config.Server {
		return config.Server{MaxSocketsPerAddress: perAddr, MaxSockets: maxSockets, FDReserve: reserve}
	}
	for _, tt := range []struct {
		name    string
		soft    uint64
		s       config.Server
		want    fileLimits
		warn    string
		wantErr string
	}{
		{"a tenth of a large limit", 1 << 20, srv(1000, 0, 0), fileLimits{Reserve: 104857, PerAddress: 1000, Public: 943719, Staff: 52428}, "", ""},
		{"at least 256 of a small one", 1024, srv(1000, 0, 0), fileLimits{Reserve: 256, PerAddress: 1000, Public: 768, Staff: 128}, "", ""},
		{"configured reserve", 600, srv(50, 0, 200), fileLimits{Reserve: 200, PerAddress: 50, Public: 400, Staff: 100}, "", ""},
		{"max_sockets below the limit", 1 << 16, srv(1000, 5000, 0), fileLimits{Reserve: 6553, PerAddress: 1000, Public: 5000, Staff: 3276}, "", ""},
		{"max_sockets above it is lowered", 1024, srv(1000, 5000, 0), fileLimits{Reserve: 256, PerAddress: 1000, Public: 768, Staff: 128}, "server.max_sockets 5000 does not fit", ""},
		{"limit not above the reserve", 256, srv(1000, 0, 0), fileLimits{}, "", "the open-file limit (256) is not above the descriptors kept in reserve (256)"},
		{"unknown limit", 0, srv(1000, 300, 0), fileLimits{PerAddress: 1000, Public: 300}, "unknown", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, warns, err := shareFileLimit(tt.soft, tt.soft, tt.s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Soft, tt.want.Hard = tt.soft, tt.soft
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if w := strings.Join(warns, "; "); (tt.warn == "") != (w == "") || !strings.Contains(w, tt.warn) {
				t.Errorf("warnings %q, want %q", w, tt.warn)
			}
		})
	}
}
