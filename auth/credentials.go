package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"

	"golang.org/x/crypto/bcrypt"

	"github.com/backchannel/backchannel/event"
)

// RoleCredentials are the ways to act as one role at one event. Any
// combination may be set; a role with none cannot be used.
type RoleCredentials struct {
	// Passphrase is shared by everyone in the role; a person logging in with
	// it may give a name for the audit. Use a long one: login attempts are
	// rate limited, but a shared secret is only as good as its length.
	Passphrase string
	// Users maps a user name to a bcrypt hash of that user's password
	// (see HashPassword). A name listed here cannot be claimed with a
	// passphrase.
	Users map[string]string
	// Tokens are API bearer tokens, for scripts: at least MinTokenLength
	// bytes each.
	Tokens []string
}

// EventCredentials are one event's credentials. A moderator may do
// everything a facilitator may.
type EventCredentials struct {
	Moderator   RoleCredentials
	Facilitator RoleCredentials
}

// MinTokenLength is the shortest API token accepted: tokens are not rate
// limited per attempt the way logins are, so they must be unguessable.
const MinTokenLength = 16

// HashPassword returns the bcrypt hash of password, for RoleCredentials.Users.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// slugPattern is what an event slug may be: it names a cookie, so it must be
// a cookie-name token.
var slugPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// roleCreds is RoleCredentials prepared for comparison.
type roleCreds struct {
	role       event.Role
	passphrase *[32]byte // sha256 of the passphrase; nil when none
	// passGen identifies the passphrase without revealing it, so a session
	// made with an old passphrase ends when the passphrase changes.
	passGen string
	users   map[string]userCred
	tokens  []tokenCred
}

type userCred struct {
	hash []byte
	gen  string
}

type tokenCred struct {
	sum  [32]byte
	name string // "token:" + a short fingerprint, for the audit
}

type eventCreds struct {
	roles [2]*roleCreds // moderator first: it wins when one secret opens both
	cost  int           // bcrypt cost of the users' hashes, for the dummy comparison
}

func (a *Authenticator) compile(slug string, c EventCredentials) (*eventCreds, error) {
	if !slugPattern.MatchString(slug) {
		return nil, fmt.Errorf("auth: event slug %q: only letters, digits, '-', '_' and '.' are allowed", slug)
	}
	ec := &eventCreds{cost: bcrypt.DefaultCost}
	for i, rc := range []struct {
		role event.Role
		c    RoleCredentials
	}{{event.RoleModerator, c.Moderator}, {event.RoleFacilitator, c.Facilitator}} {
		r := &roleCreds{role: rc.role, users: map[string]userCred{}}
		if rc.c.Passphrase != "" {
			sum := sha256.Sum256([]byte(rc.c.Passphrase))
			r.passphrase = &sum
			r.passGen = a.generation(slug, string(rc.role), "pass", rc.c.Passphrase)
		}
		names := make([]string, 0, len(rc.c.Users))
		for name := range rc.c.Users {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			hash := rc.c.Users[name]
			if err := checkName(name); err != nil || name == "" {
				return nil, fmt.Errorf("auth: event %s %s user %q: %w", slug, rc.role, name, errBadName)
			}
			cost, err := bcrypt.Cost([]byte(hash))
			if err != nil {
				return nil, fmt.Errorf("auth: event %s %s user %q: not a bcrypt hash: %w", slug, rc.role, name, err)
			}
			ec.cost = cost
			r.users[name] = userCred{hash: []byte(hash), gen: a.generation(slug, string(rc.role), "user", name, hash)}
		}
		for _, tok := range rc.c.Tokens {
			if len(tok) < MinTokenLength {
				return nil, fmt.Errorf("auth: event %s %s: an API token is shorter than %d bytes", slug, rc.role, MinTokenLength)
			}
			sum := sha256.Sum256([]byte(tok))
			r.tokens = append(r.tokens, tokenCred{sum: sum, name: "token:" + hex.EncodeToString(sum[:4])})
		}
		ec.roles[i] = r
	}
	return ec, nil
}

// generation is a short keyed digest of a credential: stored in a session,
// it ends the session when the credential changes, and says nothing about
// the credential to someone without the server key.
func (a *Authenticator) generation(parts ...string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("generation"))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil)[:8])
}
