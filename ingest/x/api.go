package x

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is X's API host.
const DefaultBaseURL = "https://api.x.com"

// The fields a wall card needs (x-api.md, "Fields and expansions"), in the
// v2.166 spelling; the parameter that carries tweetFields is configurable
// (Client.FieldsParam) for the "post.fields" rename.
const (
	tweetFields = "created_at,author_id,entities,attachments,possibly_sensitive,referenced_tweets," +
		"edit_history_tweet_ids,edit_controls,note_tweet,lang,conversation_id"
	expansions = "author_id,attachments.media_keys,referenced_tweets.id,referenced_tweets.id.author_id," +
		"referenced_tweets.id.attachments.media_keys"
	userFields  = "name,username,profile_image_url,verified,verified_type,protected"
	mediaFields = "media_key,type,url,preview_image_url,alt_text,width,height,variants"
)

// ---- what X sends ----

// tweet is a post as X v2 serves it. Fields renamed in openapi v2.167
// (x-api.md, "Uncertain" 1) are read under both names; use the methods.
type tweet struct {
	ID                  string     `json:"id"`
	Text                string     `json:"text"`
	AuthorID            string     `json:"author_id"`
	CreatedAt           time.Time  `json:"created_at"`
	Lang                string     `json:"lang"`
	PossiblySensitive   bool       `json:"possibly_sensitive"`
	EditHistoryTweetIDs []string   `json:"edit_history_tweet_ids"`
	EditHistoryPostIDs  []string   `json:"edit_history_post_ids"`
	ReferencedTweets    []ref      `json:"referenced_tweets"`
	ReferencedPosts     []ref      `json:"referenced_posts"`
	Entities            entities   `json:"entities"`
	NoteTweet           *note      `json:"note_tweet"`
	NotePost            *note      `json:"note_post"`
	Attachments         attachment `json:"attachments"`
}

type ref struct {
	Type string `json:"type"` // retweeted, quoted, replied_to
	ID   string `json:"id"`
}

type note struct {
	Text     string   `json:"text"`
	Entities entities `json:"entities"`
}

type attachment struct {
	MediaKeys []string `json:"media_keys"`
}

// entities' start and end count Unicode code points; start inclusive, end
// exclusive.
type entities struct {
	Hashtags []struct {
		Start int    `json:"start"`
		End   int    `json:"end"`
		Tag   string `json:"tag"`
	} `json:"hashtags"`
	Mentions []struct {
		Start    int    `json:"start"`
		End      int    `json:"end"`
		Username string `json:"username"`
	} `json:"mentions"`
	URLs []struct {
		Start       int    `json:"start"`
		End         int    `json:"end"`
		URL         string `json:"url"`
		ExpandedURL string `json:"expanded_url"`
		DisplayURL  string `json:"display_url"`
	} `json:"urls"`
}

// history is the post's edit history, oldest first; [id] when never edited.
func (t *tweet) history() []string {
	if len(t.EditHistoryTweetIDs) > 0 {
		return t.EditHistoryTweetIDs
	}
	if len(t.EditHistoryPostIDs) > 0 {
		return t.EditHistoryPostIDs
	}
	return []string{t.ID}
}

func (t *tweet) refs() []ref {
	if len(t.ReferencedTweets) > 0 {
		return t.ReferencedTweets
	}
	return t.ReferencedPosts
}

func (t *tweet) ref(typ string) string {
	for _, r := range t.refs() {
		if r.Type == typ {
			return r.ID
		}
	}
	return ""
}

// note is the full text of a post longer than 280 characters, or nil.
func (t *tweet) note() *note {
	if t.NoteTweet != nil && t.NoteTweet.Text != "" {
		return t.NoteTweet
	}
	if t.NotePost != nil && t.NotePost.Text != "" {
		return t.NotePost
	}
	return nil
}

type user struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Username        string `json:"username"`
	ProfileImageURL string `json:"profile_image_url"`
	Verified        bool   `json:"verified"`
	VerifiedType    string `json:"verified_type"`
	Protected       bool   `json:"protected"`
}

type media struct {
	MediaKey        string `json:"media_key"`
	Type            string `json:"type"` // photo, video, animated_gif
	URL             string `json:"url"`
	PreviewImageURL string `json:"preview_image_url"`
	AltText         string `json:"alt_text"`
	Width           int    `json:"width"`
	Height          int    `json:"height"`
	Variants        []struct {
		BitRate     int    `json:"bit_rate"`
		ContentType string `json:"content_type"`
		URL         string `json:"url"`
	} `json:"variants"`
}

type includes struct {
	Users  []user  `json:"users"`
	Media  []media `json:"media"`
	Tweets []tweet `json:"tweets"`
	Posts  []tweet `json:"posts"`
}

// problem is an RFC 7807 problem as X sends it, in errors[] or as a body.
type problem struct {
	Type            string   `json:"type"`
	Title           string   `json:"title"`
	Detail          string   `json:"detail"`
	Status          int      `json:"status"`
	ResourceType    string   `json:"resource_type"`
	ResourceID      string   `json:"resource_id"`
	Parameter       string   `json:"parameter"`
	Value           string   `json:"value"`
	Section         string   `json:"section"`
	Period          string   `json:"period"`
	Scope           string   `json:"scope"`
	ConnectionIssue string   `json:"connection_issue"`
	DisconnectType  string   `json:"disconnect_type"`
	Details         []string `json:"details"`
	// Message and Code are the v1.1 form ({"code":88,"message":...}).
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// kind is the problem type's last path element ("resource-not-found"): X
// writes the type under api.twitter.com and api.x.com alike.
func (p *problem) kind() string {
	t := strings.TrimRight(p.Type, "/")
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		t = t[i+1:]
	}
	if t == "" || t == "about:blank" {
		return p.Title
	}
	return t
}

// words says what the problem is, for a host reading the health.
func (p *problem) words() string {
	parts := []string{}
	for _, s := range []string{p.Title, p.Detail, p.Message} {
		if s != "" && !slicesContains(parts, s) {
			parts = append(parts, s)
		}
	}
	parts = append(parts, p.Details...)
	if len(parts) == 0 {
		return p.kind()
	}
	return strings.Join(parts, ": ")
}

func slicesContains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// gone reports a problem that says a looked-up post is no longer available:
// deleted, or its author protected or suspended.
func (p *problem) gone() bool {
	switch p.kind() {
	case "resource-not-found", "not-authorized-for-resource", "resource-unavailable":
		return true
	}
	return false
}

// page is a response with posts: search, lookup, or one stream line.
type page struct {
	Data          json.RawMessage `json:"data"`
	Includes      includes        `json:"includes"`
	Errors        []problem       `json:"errors"`
	MatchingRules []struct {
		ID  string `json:"id"`
		Tag string `json:"tag"`
	} `json:"matching_rules"`
	Meta struct {
		NewestID    string `json:"newest_id"`
		OldestID    string `json:"oldest_id"`
		ResultCount int    `json:"result_count"`
		NextToken   string `json:"next_token"`
	} `json:"meta"`
}

// posts reads data: an array (search, lookup) or one object (a stream line).
func (p *page) posts() ([]tweet, error) {
	d := bytes.TrimSpace(p.Data)
	if len(d) == 0 || string(d) == "null" {
		return nil, nil
	}
	if d[0] == '{' {
		var t tweet
		if err := json.Unmarshal(d, &t); err != nil {
			return nil, err
		}
		return []tweet{t}, nil
	}
	var ts []tweet
	err := json.Unmarshal(d, &ts)
	return ts, err
}

// ---- errors ----

// APIError is a response X refused, with its problem read from the body.
type APIError struct {
	Status  int
	Problem problem
	// UsageCapped: the 429 is the monthly usage or spend cap, not a rate
	// limit; retrying will not help until the operator acts.
	UsageCapped bool
	// Reset is x-rate-limit-reset, zero when absent.
	Reset time.Time
	// Endpoint is the path asked for.
	Endpoint string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("x: %s: %d %s", e.Endpoint, e.Status, http.StatusText(e.Status))
	if w := e.Problem.words(); w != "" && w != http.StatusText(e.Status) {
		s += ": " + w
	}
	if e.UsageCapped {
		s += fmt.Sprintf(" (usage cap: %s %s)", e.Problem.Period, e.Problem.Scope)
	}
	return s
}

// RateLimited reports a 429 that is a rate limit (wait for the reset).
func (e *APIError) RateLimited() bool {
	return e.Status == http.StatusTooManyRequests && !e.UsageCapped
}

// ErrUsageCapped is wrapped by every error of a usage-capped 429.
var ErrUsageCapped = errors.New("x: usage cap reached")

func (e *APIError) Unwrap() error {
	if e.UsageCapped {
		return ErrUsageCapped
	}
	return nil
}

// classify reads a refused response's body. The usage-cap type is checked
// first: a capped 429 still carries plenty of rate limit (x-api.md, 429).
func classify(endpoint string, status int, h http.Header, body []byte) *APIError {
	e := &APIError{Status: status, Endpoint: endpoint, Reset: parseReset(h.Get("x-rate-limit-reset"))}
	var pr problem
	if json.Unmarshal(body, &pr) == nil {
		e.Problem = pr
	}
	var v1 struct {
		Errors []problem `json:"errors"`
	}
	if e.Problem.Type == "" && e.Problem.Title == "" && json.Unmarshal(body, &v1) == nil && len(v1.Errors) > 0 {
		e.Problem = v1.Errors[0]
	}
	k := strings.ToLower(e.Problem.kind())
	e.UsageCapped = status == http.StatusTooManyRequests &&
		(k == "usage-capped" || strings.EqualFold(e.Problem.Title, "UsageCapExceeded"))
	return e
}

func parseReset(v string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// ---- the client ----

// RateLimit is what X last said about one endpoint's budget.
type RateLimit struct {
	Limit, Remaining int
	Reset            time.Time
}

// Client calls X's API with an app-only bearer token. It is shared by the
// stream and every event's source, as X's limits are per app. Safe for
// concurrent use.
type Client struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// Token is the app's bearer token.
	Token string
	// FieldsParam is the name of the post-fields parameter: "tweet.fields"
	// (default) or "post.fields" if X completes the rename.
	FieldsParam string
	// HTTP makes the requests; nil means a client with a 30 s timeout. The
	// stream uses its transport without the timeout.
	HTTP *http.Client
	// OnRateLimit, when set, is told of every endpoint's rate-limit headers.
	OnRateLimit func(endpoint string, rl RateLimit)

	mu     sync.Mutex
	limits map[string]RateLimit
	// capped is the usage-cap error once X has sent one: from then on no
	// request is made (retrying cannot help until the operator acts), so
	// nothing retries it in a loop.
	capped *APIError
}

// Capped returns the usage-cap error X sent, or nil.
func (c *Client) Capped() *APIError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capped
}

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

func (c *Client) httpc() *http.Client {
	if c.HTTP == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return c.HTTP
}

func (c *Client) fieldValues(v url.Values) {
	fp := c.FieldsParam
	if fp == "" {
		fp = "tweet.fields"
	}
	v.Set(fp, tweetFields)
	v.Set("expansions", expansions)
	v.Set("user.fields", userFields)
	v.Set("media.fields", mediaFields)
}

// Limit returns what X last said about endpoint's rate limit.
func (c *Client) Limit(endpoint string) (RateLimit, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rl, ok := c.limits[endpoint]
	return rl, ok
}

// Limits returns what X last said about every endpoint's rate limit.
func (c *Client) Limits() map[string]RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]RateLimit, len(c.limits))
	for k, v := range c.limits {
		m[k] = v
	}
	return m
}

func (c *Client) record(endpoint string, h http.Header) {
	rem := h.Get("x-rate-limit-remaining")
	if rem == "" {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(rem))
	if err != nil {
		return
	}
	limit, _ := strconv.Atoi(strings.TrimSpace(h.Get("x-rate-limit-limit")))
	rl := RateLimit{Limit: limit, Remaining: n, Reset: parseReset(h.Get("x-rate-limit-reset"))}
	c.mu.Lock()
	if c.limits == nil {
		c.limits = map[string]RateLimit{}
	}
	c.limits[endpoint] = rl
	c.mu.Unlock()
	if c.OnRateLimit != nil {
		c.OnRateLimit(endpoint, rl)
	}
}

// waitForLimit holds a request while the endpoint's limit is used up and
// its reset is ahead: asking would only earn a 429.
func (c *Client) waitForLimit(endpoint string) error {
	if e := c.Capped(); e != nil {
		return e
	}
	rl, ok := c.Limit(endpoint)
	if !ok || rl.Remaining > 0 || rl.Reset.IsZero() {
		return nil
	}
	d := time.Until(rl.Reset)
	if d <= 0 {
		return nil
	}
	return &APIError{Status: http.StatusTooManyRequests, Endpoint: endpoint, Reset: rl.Reset,
		Problem: problem{Title: "rate limit used up", Detail: "waiting for the reset before asking again"}}
}

// maxBody bounds a response: a page of 100 posts with includes is well
// under a megabyte.
const maxBody = 8 << 20

// do sends one request and decodes a 2xx JSON body into out.
func (c *Client) do(ctx context.Context, method, endpoint string, q url.Values, body any, out any) error {
	if err := c.waitForLimit(endpoint); err != nil {
		return err
	}
	u := c.base() + endpoint
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("User-Agent", "backchannel")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpc().Do(req)
	if err != nil {
		return fmt.Errorf("x: %s: %w", endpoint, timedOut(err))
	}
	defer resp.Body.Close()
	c.record(endpoint, resp.Header)
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("x: %s: read: %w", endpoint, timedOut(err))
	}
	if len(b) > maxBody {
		return fmt.Errorf("x: %s: response larger than %d bytes", endpoint, maxBody)
	}
	if resp.StatusCode/100 != 2 {
		return c.refused(classify(endpoint, resp.StatusCode, resp.Header, b))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("x: %s: unreadable response: %w", endpoint, err)
	}
	return nil
}

// refused notes a usage cap, so no later request is made.
func (c *Client) refused(e *APIError) *APIError {
	if e.UsageCapped {
		c.mu.Lock()
		if c.capped == nil {
			c.capped = e
		}
		c.mu.Unlock()
	}
	return e
}

func timedOut(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timed out: %w", err)
	}
	return err
}

// Endpoints.
const (
	epSearch = "/2/tweets/search/recent"
	epLookup = "/2/tweets"
	epRules  = "/2/tweets/search/stream/rules"
	epStream = "/2/tweets/search/stream"
)

// search reads one page of recent search. sinceID and startTime are
// exclusive (X refuses both); nextToken follows a page.
func (c *Client) search(ctx context.Context, query, sinceID string, startTime time.Time, nextToken string) (*page, error) {
	q := url.Values{}
	q.Set("query", query)
	q.Set("max_results", "100")
	q.Set("sort_order", "recency")
	if sinceID != "" {
		q.Set("since_id", sinceID)
	} else if !startTime.IsZero() {
		q.Set("start_time", startTime.UTC().Format(time.RFC3339))
	}
	if nextToken != "" {
		q.Set("next_token", nextToken)
	}
	c.fieldValues(q)
	var p page
	if err := c.do(ctx, http.MethodGet, epSearch, q, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// lookup reads up to 100 posts by id.
func (c *Client) lookup(ctx context.Context, ids []string) (*page, error) {
	q := url.Values{}
	q.Set("ids", strings.Join(ids, ","))
	c.fieldValues(q)
	var p page
	if err := c.do(ctx, http.MethodGet, epLookup, q, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Rule is one filtered-stream rule.
type Rule struct {
	ID    string `json:"id,omitempty"`
	Value string `json:"value"`
	Tag   string `json:"tag,omitempty"`
}

type rulesResponse struct {
	Data   []Rule    `json:"data"`
	Errors []problem `json:"errors"`
	Meta   struct {
		NextToken string `json:"next_token"`
		Summary   struct {
			Created, NotCreated, Valid, Invalid, Deleted, NotDeleted int
		} `json:"summary"`
	} `json:"meta"`
}

// rules lists the app's stream rules.
func (c *Client) rules(ctx context.Context) ([]Rule, error) {
	var all []Rule
	tok := ""
	for range 10 { // 10 pages of 1000: more than any plan allows
		q := url.Values{}
		if tok != "" {
			q.Set("pagination_token", tok)
		}
		var r rulesResponse
		if err := c.do(ctx, http.MethodGet, epRules, q, nil, &r); err != nil {
			return nil, err
		}
		all = append(all, r.Data...)
		if tok = r.Meta.NextToken; tok == "" {
			break
		}
	}
	return all, nil
}

// addRules adds rules (or only validates them with dryRun) and returns the
// rules X refused, by value, in words.
func (c *Client) addRules(ctx context.Context, add []Rule, dryRun bool) (refused map[string]string, err error) {
	q := url.Values{}
	if dryRun {
		q.Set("dry_run", "true")
	}
	var r rulesResponse
	if err := c.do(ctx, http.MethodPost, epRules, q, map[string]any{"add": add}, &r); err != nil {
		return nil, err
	}
	refused = map[string]string{}
	for _, p := range r.Errors {
		if p.kind() == "duplicate-rules" {
			continue // already there: what we wanted
		}
		refused[p.Value] = p.words()
	}
	return refused, nil
}

func (c *Client) deleteRules(ctx context.Context, ids []string) error {
	return c.do(ctx, http.MethodPost, epRules, nil, map[string]any{"delete": map[string]any{"ids": ids}}, nil)
}
