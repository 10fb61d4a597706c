package config

import (
	"fmt"
	"time"
	_ "time/tzdata" // zones on machines without the IANA database
)

// validateTimezones checks that each event's timezone is a zone this
// machine knows (the IANA database, or the copy built into the binary).
func (c *Config) validateTimezones() []error {
	var errs []error
	for i := range c.Events {
		tz := c.Events[i].Timezone
		if tz == "" {
			continue
		}
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			errs = append(errs, c.errAt(fmt.Sprintf("events[%d].timezone", i),
				fmt.Sprintf("unknown time zone %q: give an IANA name such as Europe/London or America/New_York", tz)))
		}
	}
	return errs
}

// Zone is the event's time zone: Timezone, or the server's local zone
// when it is empty (or, having passed Validate, cannot be loaded).
func (e *Event) Zone() *time.Location {
	if e.Timezone == "" {
		return time.Local
	}
	loc, err := time.LoadLocation(e.Timezone)
	if err != nil {
		return time.Local
	}
	return loc
}
