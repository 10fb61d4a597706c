package moderation

import (
	"slices"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
)

// found runs the personal-data rules on text with all on and returns, per
// rule name, the matched texts.
func found(text string) map[string][]string {
	out := map[string][]string{}
	for _, c := range personal(text, func(string) bool { return false }, nil) {
		for _, s := range c.Spans {
			if text[s.Start:s.End] != s.Text {
				panic("span text does not match its offsets")
			}
			out[c.Rule] = append(out[c.Rule], s.Text)
		}
	}
	return out
}

func TestPersonalDataDetectors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		rule       string
		want       []string // nil: the rule must not match
	}{
		// UK phone numbers, written as people write them.
		{"mobile", "Ring me on 07700 900123 if you want to help with the stall", RulePhone, []string{"07700 900123"}},
		{"mobile +44", "WhatsApp +44 7700 900123 for tickets", RulePhone, []string{"+44 7700 900123"}},
		{"+44 (0)", "Office: +44 (0)113 496 0000.", RulePhone, []string{"+44 (0)113 496 0000"}},
		{"landline brackets", "call (0113) 496 0000 before 5pm", RulePhone, []string{"(0113) 496 0000"}},
		{"london", "The helpline is 020 7946 0018, open all day", RulePhone, []string{"020 7946 0018"}},
		{"no spaces", "text 07700900123 now", RulePhone, []string{"07700900123"}},
		{"phone in a URL", "Slides at https://example.org/talks/07700900123/slides.pdf", RulePhone, nil},
		{"year and count", "In 2024 we saw 1500 people at 12 events", RulePhone, nil},
		{"reference number", "Planning ref 23/01234/FU is on the agenda", RulePhone, nil},

		// Email addresses, but not Mastodon handles.
		{"email", "Write to jo.bloggs+events@example.co.uk with questions", RuleEmail, []string{"jo.bloggs+events@example.co.uk"}},
		{"handle", "Thanks @ada@mastodon.social for the thread", RuleEmail, nil},
		{"email in URL", "see https://lists.example.org/mailman/jo@example.org", RuleEmail, nil},

		// NHS numbers: ten digits passing the modulus-11 check.
		{"nhs spaced", "My NHS number is 943 476 5919 if that helps", RuleNHSNumber, []string{"943 476 5919"}},
		{"nhs together", "nhs no 9434765919", RuleNHSNumber, []string{"9434765919"}},
		{"nhs dashed", "ref 943-476-5919", RuleNHSNumber, []string{"943-476-5919"}},
		{"ten digits failing the check", "order 943 476 5918 arrived", RuleNHSNumber, nil},
		{"ten digits failing the check (10)", "id 1234567890 here", RuleNHSNumber, nil},

		// Postcodes.
		{"postcode", "Meet at LS1 4AP by the steps", RulePostcode, []string{"LS1 4AP"}},
		{"postcode lower", "we're at ls6 2ab tonight", RulePostcode, []string{"ls6 2ab"}},
		{"postcode london", "Parliament, SW1A 0AA", RulePostcode, []string{"SW1A 0AA"}},
		{"time is no postcode", "Starts AT10 5PM sharp", RulePostcode, nil},
		{"room and floor", "Room B12 4th floor", RulePostcode, nil},

		// Dates of birth, in context only.
		{"born", "My dad, born 03/04/1941, still volunteers", RuleDateOfBirth, []string{"03/04/1941"}},
		{"dob", "DOB: 12 March 1950", RuleDateOfBirth, []string{"12 March 1950"}},
		{"date of birth", "her date of birth is 1950-03-12", RuleDateOfBirth, []string{"1950-03-12"}},
		{"age phrase", "Mum turned 84 years old on 2 June 1941, born in Leeds", RuleDateOfBirth, []string{"2 June 1941"}},
		{"meeting date", "The next meeting is on 3 March 2026 at the town hall", RuleDateOfBirth, nil},
		{"deadline", "Consultation closes 31/01/2026", RuleDateOfBirth, nil},

		// A hospital word near a name.
		{"ward and name", "Visited my nan Edith on ward 7 today, she's doing better", RuleHospital, []string{"Edith", "ward"}},
		{"admitted", "Our John was admitted last night to St James's", RuleHospital, []string{"admitted", "John"}},
		{"bed and title", "Mr Patel in bed 4 is asking for the chaplain", RuleHospital, []string{"bed", "Patel"}},
		{"no name", "Bed availability on wards is improving across the trust", RuleHospital, nil},
		{"hospital name", "Thanks to the staff at St James's Hospital A&E for tonight", RuleHospital, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := found(tc.text)[tc.rule]
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%q: %s matched %q, want %q (all: %v)", tc.text, tc.rule, got, want, found(tc.text))
			}
		})
	}
}

func TestValidNHSNumber(t *testing.T) {
	for d, want := range map[string]bool{
		"9434765919": true, "4010232137": true, "9434765918": false, "1234567890": false, "943476591": false, "0000000000": true,
	} {
		if got := ValidNHSNumber(d); got != want {
			t.Errorf("ValidNHSNumber(%s) = %v, want %v", d, got, want)
		}
	}
}

// Every personal-data rule holds even in auto mode and for a trusted
// account, says what it found, and can be switched off.
func TestPersonalDataHeldInAutoMode(t *testing.T) {
	r := Rules{Mode: event.ModeAuto, TrustedDomains: []string{"example.social"}}
	p := post("Ring the box office on 07700 900123")
	v := r.Evaluate(p, now)
	if v.Decision != event.DecisionHold || v.Rule != RulePhone {
		t.Fatalf("verdict %+v, want held for the phone number", v)
	}
	if len(v.Checks) != 1 || v.Checks[0].Spans[0].Text != "07700 900123" {
		t.Fatalf("checks %+v", v.Checks)
	}
	r.Off = []string{CheckPhone}
	if v := r.Evaluate(p, now); v.Decision != event.DecisionApprove || len(v.Checks) != 0 {
		t.Fatalf("with the phone rule off: %+v", v)
	}
	// A blocked word keeps its rule; the checks come along.
	r = Rules{Mode: event.ModeAuto, BlockedWords: []string{"ring"}}
	if v := r.Evaluate(p, now); !strings.HasPrefix(v.Rule, RuleBlockedWord) || len(v.Checks) != 1 {
		t.Fatalf("blocked word and a phone number: %+v", v)
	}
}

func TestHoldMedia(t *testing.T) {
	r := Rules{Mode: event.ModeAuto}
	p := post("Lovely day", func(p *event.Post) { p.Media = []event.Media{{Kind: "image", URL: "https://files.example/a.png"}} })
	if v := r.Evaluate(p, now); v.Decision != event.DecisionApprove {
		t.Fatalf("media without the setting: %+v", v)
	}
	r.HoldMedia = true
	if v := r.Evaluate(p, now); v.Decision != event.DecisionHold || v.Rule != RuleMedia {
		t.Fatalf("media with hold_media: %+v", v)
	}
}
