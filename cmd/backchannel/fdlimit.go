package main

import (
	"fmt"
	"log/slog"
	"math"

	"github.com/backchannel/backchannel/config"
)

// fileLimits is how the process's open-file limit is shared out.
type fileLimits struct {
	// Soft and Hard are RLIMIT_NOFILE after raising the soft limit; zero
	// when the system has none we can read.
	Soft, Hard uint64
	// Reserve is kept from public sockets: the log's files, Redis,
	// outgoing source connections, HTTP requests and staff sockets.
	Reserve int
	// PerAddress, Public and Staff are the socket caps (fanout.LimitOptions);
	// zero means none.
	PerAddress, Public, Staff int
}

// minReserve is the smallest reserve kept when fd_reserve is not set.
const minReserve = 256

// shareFileLimit sizes the socket caps from the open-file limit soft
// (zero: unknown) and the server settings: public sockets get the limit
// less the reserve (or server.max_sockets when lower), staff sockets half
// the reserve, so they are counted apart and never crowded out by public
// ones. It fails when the limit leaves nothing for public sockets.
func shareFileLimit(soft, hard uint64, s config.Server) (fileLimits, []string, error) {
	fl := fileLimits{Soft: soft, Hard: hard, PerAddress: s.MaxSocketsPerAddress, Public: s.MaxSockets}
	if soft == 0 {
		return fl, []string{"the open-file limit is unknown on this system: public sockets are capped only by server.max_sockets"}, nil
	}
	limit := int(min(soft, math.MaxInt32))
	fl.Reserve = s.FDReserve
	if fl.Reserve == 0 {
		fl.Reserve = max(minReserve, limit/10)
	}
	if limit <= fl.Reserve {
		return fl, nil, fmt.Errorf("the open-file limit (%d) is not above the descriptors kept in reserve (%d): raise the limit (ulimit -n, systemd LimitNOFILE) or lower server.fd_reserve", limit, fl.Reserve)
	}
	var warnings []string
	derived := limit - fl.Reserve
	switch {
	case s.MaxSockets == 0:
		fl.Public = derived
	case s.MaxSockets > derived:
		warnings = append(warnings, fmt.Sprintf("server.max_sockets %d does not fit the open-file limit %d less the reserve %d: capped at %d", s.MaxSockets, limit, fl.Reserve, derived))
		fl.Public = derived
	}
	fl.Staff = max(1, fl.Reserve/2)
	return fl, warnings, nil
}

// applyFileLimit raises the open-file limit, shares it out and logs how.
func applyFileLimit(s config.Server, logger *slog.Logger) (fileLimits, error) {
	soft, hard, err := raiseFileLimit()
	if err != nil {
		logger.Warn("could not raise the open-file limit", "err", err, "soft", soft, "hard", hard)
	}
	fl, warnings, err := shareFileLimit(soft, hard, s)
	if err != nil {
		return fl, err
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	logger.Info("open-file limit", "soft", soft, "hard", hard, "reserve", fl.Reserve,
		"max_public_sockets", fl.Public, "max_staff_sockets", fl.Staff, "max_sockets_per_address", fl.PerAddress)
	return fl, nil
}
