package config

import "fmt"

// Defaults of the web form's limits, in posts a minute.
const (
	DefaultFormPerDevice  = 3
	DefaultFormPerAddress = 60
	DefaultFormPerEvent   = 600
)

// Form holds an event's web form limits, each in posts a minute: that many
// at once, then that many a minute. Zero takes the default.
type Form struct {
	// PerDevice limits one phone or browser (a signed token the form hands
	// out), so one person cannot use up a room's share (default 3).
	PerDevice int `yaml:"per_device"`
	// PerAddress limits one client address, high enough for a venue's
	// phones behind one NAT (default 60).
	PerAddress int `yaml:"per_address"`
	// PerEvent limits the whole event's form, whoever posts (default 600).
	PerEvent int `yaml:"per_event"`
}

// validateForms checks every event's form limits and fills the defaults.
func (c *Config) validateForms() []error {
	var errs []error
	for i := range c.Events {
		f := &c.Events[i].Form
		for _, l := range []struct {
			name string
			v    *int
			def  int
		}{{"per_device", &f.PerDevice, DefaultFormPerDevice}, {"per_address", &f.PerAddress, DefaultFormPerAddress}, {"per_event", &f.PerEvent, DefaultFormPerEvent}} {
			switch {
			case *l.v < 0 || *l.v > 1_000_000:
				errs = append(errs, c.errAt(fmt.Sprintf("events[%d].form.%s", i, l.name), fmt.Sprintf("%d posts a minute: give 1 to 1000000 (0 or nothing: the default, %d)", *l.v, l.def)))
			case *l.v == 0:
				*l.v = l.def
			}
		}
	}
	return errs
}
