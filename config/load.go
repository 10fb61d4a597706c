package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/backchannel/backchannel/event"
)

// Error is one thing wrong with a config, placed as exactly as the file
// allows: "events.yaml:12: events[0].sources[1].server: not a URL".
type Error struct {
	File string // the file, "" for flags
	Line int    // 1-based, 0 when unknown
	Path string // the field, "events[0].sources[1].server"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads the config file at path, with secrets from the process's
// environment.
func Load(path string) (*Config, error) {
	return LoadEnv(path, os.Getenv)
}

// LoadEnv reads the config file at path, with secrets from getenv.
func LoadEnv(path string, getenv func(string) string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, b, getenv)
}

// Parse decodes and validates a config held in data, read from file (used
// in messages only). Unknown fields are refused; every problem is reported
// as an *Error, joined with errors.Join when there are several.
func Parse(file string, data []byte, getenv func(string) string) (*Config, error) {
	c, err := decode(file, data, getenv)
	if c == nil {
		return nil, err
	}
	c.defaults()
	if err := withValidation(err, c.Validate()); err != nil {
		return nil, err
	}
	return c, nil
}

// withValidation joins the errors met decoding a file (fields of the wrong
// type, unknown fields, unset environment variables) with those validation
// found in what could be decoded, so that every mistake is reported at
// once. A validation error about a field that failed to decode, or about
// one inside or around it, says nothing more and is left out.
func withValidation(decodeErr, validateErr error) error {
	if decodeErr == nil || validateErr == nil {
		return errors.Join(decodeErr, validateErr)
	}
	var bad []string
	for _, e := range flatten(decodeErr) {
		if ce, ok := e.(*Error); ok && ce.Path != "" {
			bad = append(bad, ce.Path)
		}
	}
	related := func(a, b string) bool {
		return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
	}
	errs := flatten(decodeErr)
	for _, e := range flatten(validateErr) {
		ce, ok := e.(*Error)
		if ok && slices.ContainsFunc(bad, func(b string) bool { return related(ce.Path, b) || related(b, ce.Path) }) {
			continue
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// flatten lists the errors err joins, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// decode reads the file's fields and the secrets it names, refusing
// unknown fields, without applying defaults or validating. It reports
// every field of the wrong type, every unknown field and every unset
// variable, not only the first; it returns a nil Config only when the
// file is not YAML at all, and otherwise what it could decode, so that
// validation can report the rest at the same time.
func decode(file string, data []byte, getenv func(string) string) (*Config, error) {
	c := &Config{File: file, lines: map[string]int{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "empty file: it needs at least an events list"}
		}
		return nil, yamlError(file, err)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	// Walk the tree first: it refuses unknown fields and records where
	// every field is, so later messages can name the line.
	var errs []error
	c.walk(doc, reflect.TypeFor[Config](), "", &errs)
	if err := doc.Decode(c); err != nil && len(errs) == 0 {
		// walk checks every field yaml.v3 decodes; this is for what it
		// does not know about.
		errs = append(errs, yamlError(file, err))
	}
	if err := c.resolve(getenv); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlError turns yaml.v3's errors ("yaml: line 3: could not find
// expected ':'", or a TypeError listing several) into *Errors with lines.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		e := &Error{File: file, Msg: m}
		if loc := yamlLine.FindStringSubmatchIndex(m); loc != nil {
			e.Line, _ = strconv.Atoi(m[loc[2]:loc[3]])
			e.Msg = m[:loc[0]] + m[loc[1]:]
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// walk checks node against the Go type t: mappings into structs may only
// use the struct's yaml field names, and values must be of their field's
// type. It adds every mismatch to errs and turns the node into null (see
// forget), and records each field's line under its path.
func (c *Config) walk(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		c.lines[path] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			// yaml.v3 reports a bad time without its line, so check it here
			// where the field and line are known.
			var tm time.Time
			if n.Kind != yaml.ScalarNode || n.Decode(&tm) != nil {
				*errs = append(*errs, c.errAtLine(n.Line, path, fmt.Sprintf("%q is not a time: write it as 2026-03-12T09:30:00Z (RFC 3339, with a zone)", n.Value)))
				forget(n)
			}
			return
		}
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			*errs = append(*errs, c.errAtLine(n.Line, path, "must be a mapping of fields ("+strings.Join(slices.Sorted(maps.Keys(yamlFields(t))), ", ")+")"))
			forget(n)
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // merge key: check what is merged in
				c.walk(v, t, path, errs)
				continue
			}
			f, ok := fields[k.Value]
			sub := join(path, k.Value)
			if !ok {
				*errs = append(*errs, c.errAtLine(k.Line, sub, "unknown field (known: "+strings.Join(slices.Sorted(maps.Keys(fields)), ", ")+")"))
				continue
			}
			c.lines[sub] = k.Line
			c.walk(v, f.Type, sub, errs)
			c.lines[sub] = k.Line
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Tag == "!!null" {
				return
			}
			*errs = append(*errs, c.errAtLine(n.Line, path, "must be a list"))
			forget(n)
			return
		}
		for i, e := range n.Content {
			c.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			*errs = append(*errs, c.errAtLine(n.Line, path, "must be a mapping"))
			forget(n)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := join(path, k.Value)
			c.lines[sub] = k.Line
			c.walk(v, t.Elem(), sub, errs)
			c.lines[sub] = k.Line
		}
	default:
		if n.Kind != yaml.ScalarNode {
			*errs = append(*errs, c.errAtLine(n.Line, path, "must be a single value"))
			forget(n)
			return
		}
		// Decode the value alone, so a value of the wrong type is reported
		// with its field, which yaml.v3's own message leaves out.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			*errs = append(*errs, c.errAtLine(n.Line, path, scalarMismatch(n.Value, t)))
			forget(n)
			return
		}
	}
}

// forget turns a node of the wrong type into null, once walk has reported
// it, so that decoding the rest of the file is not cut short by it and
// validation sees everything else.
func forget(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// scalarMismatch says what a field of type t wants, for a value that is not one.
func scalarMismatch(v string, t reflect.Type) string {
	want := "a " + t.String()
	switch {
	case t == reflect.TypeFor[time.Duration]():
		want = "a duration such as 90m or 1h"
	case t.Kind() == reflect.Bool:
		want = "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		want = "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		want = "a number"
	}
	return fmt.Sprintf("%q is not %s", v, want)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func (c *Config) errAtLine(line int, path, msg string) *Error {
	return &Error{File: c.File, Line: line, Path: path, Msg: msg}
}

// errAt places msg at the line path was written on, or at the nearest
// enclosing field that was written (a missing field is reported at its parent).
func (c *Config) errAt(path, msg string) *Error {
	p := path
	for p != "" {
		if l, ok := c.lines[p]; ok {
			return c.errAtLine(l, path, msg)
		}
		if i := strings.LastIndexAny(p, ".["); i >= 0 {
			p = p[:i]
		} else {
			p = ""
		}
	}
	return c.errAtLine(0, path, msg)
}

// defaults fills what the file may leave out.
func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Data == "" {
		c.Data = DefaultData
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	c.Server.defaults()
	for i := range c.Events {
		e := &c.Events[i]
		if e.Slug == "" && len(e.Hashtags) > 0 {
			e.Slug = strings.ToLower(e.Hashtags[0])
		}
		if e.Title == "" && len(e.Hashtags) > 0 {
			e.Title = "#" + e.Hashtags[0]
		}
		if e.Moderation.Mode == "" {
			e.Moderation.Mode = event.ModePre
		}
		for j := range e.Sources {
			s := &e.Sources[j]
			if s.Type == SourceRehearsal && s.Rate == 0 {
				s.Rate = DefaultRehearsalRate
			}
			if s.Type == SourceMastodon {
				s.Server = strings.TrimRight(s.Server, "/")
			}
			if s.Type == SourceBluesky && len(s.Jetstream) == 0 {
				s.Jetstream = append([]string(nil), DefaultJetstream...)
			}
		}
	}
}

func (s *Server) defaults() {
	if s.MaxSocketsPerAddress == 0 {
		s.MaxSocketsPerAddress = DefaultMaxSocketsPerAddress
	}
	if s.BodyTimeout == 0 {
		s.BodyTimeout = DefaultBodyTimeout
	}
	if s.HeaderTimeout == 0 {
		s.HeaderTimeout = DefaultHeaderTimeout
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = DefaultIdleTimeout
	}
}

// resolve reads the secrets the config names from the environment. A named
// variable that is unset or empty is an error: a host who names one means
// to use it, and running without it would silently open or close the door.
func (c *Config) resolve(getenv func(string) string) error {
	var errs []error
	need := func(path, name string) string {
		if name == "" {
			return ""
		}
		if !envName.MatchString(name) {
			errs = append(errs, c.errAt(path, fmt.Sprintf("%q is not an environment variable name", name)))
			return ""
		}
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			errs = append(errs, c.errAt(path, "environment variable "+name+" is not set"))
		}
		if Placeholder(v) {
			errs = append(errs, c.errAt(path, "environment variable "+name+" holds a placeholder from the examples ("+v+"), which anybody can read: put a secret of your own in it (openssl rand -hex 32)"))
			return ""
		}
		return v
	}
	if k := need("session_key_env", c.SessionKeyEnv); k != "" {
		c.SessionKey = []byte(k)
	}
	for i := range c.Events {
		e := &c.Events[i]
		p := fmt.Sprintf("events[%d]", i)
		for j := range e.Sources {
			s := &e.Sources[j]
			s.Token = need(fmt.Sprintf("%s.sources[%d].token_env", p, j), s.TokenEnv)
			s.Password = need(fmt.Sprintf("%s.sources[%d].password_env", p, j), s.PasswordEnv)
			s.BearerToken = need(fmt.Sprintf("%s.sources[%d].bearer_token_env", p, j), s.BearerTokenEnv)
		}
		for _, r := range []struct {
			name string
			role *Role
		}{{"moderator", &e.Roles.Moderator}, {"facilitator", &e.Roles.Facilitator}} {
			rp := p + ".roles." + r.name
			r.role.Passphrase = need(rp+".passphrase_env", r.role.PassphraseEnv)
			if toks := need(rp+".tokens_env", r.role.TokensEnv); toks != "" {
				for t := range strings.SplitSeq(toks, ",") {
					if t = strings.TrimSpace(t); t != "" {
						r.role.Tokens = append(r.role.Tokens, t)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
