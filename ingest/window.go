package ingest

import "time"

// Window is the time an event's sources run: from Start minus LeadIn until
// End. A zero Start or End leaves that side open; the zero Window is always
// open.
type Window struct {
	Start time.Time
	End   time.Time
	// LeadIn starts the sources this long before Start, so posts written
	// while people arrive are collected (and back-filled) before the wall
	// goes up.
	LeadIn time.Duration
}

// Opens is when the window opens: Start minus LeadIn, or zero when Start is zero.
func (w Window) Opens() time.Time {
	if w.Start.IsZero() {
		return time.Time{}
	}
	return w.Start.Add(-w.LeadIn)
}

// Open reports whether sources run at now.
func (w Window) Open(now time.Time) bool {
	if o := w.Opens(); !o.IsZero() && now.Before(o) {
		return false
	}
	return w.End.IsZero() || now.Before(w.End)
}

// Over reports whether the window has closed for good at now.
func (w Window) Over(now time.Time) bool {
	return !w.End.IsZero() && !now.Before(w.End)
}
