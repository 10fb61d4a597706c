// Package jsonhttp writes backchannel's JSON answers and errors. Every HTTP
// surface (the API, login, the web form) answers errors in one shape,
// {"error":{"code":"not_found","message":"..."}}, with the status mapped
// from the event error code here and nowhere else.
package jsonhttp

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/backchannel/backchannel/event"
)

// StatusOf maps an event error code to its HTTP status.
func StatusOf(code string) int {
	switch code {
	case event.EINVALID:
		return http.StatusBadRequest
	case event.ENOTFOUND:
		return http.StatusNotFound
	case event.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case event.EFORBIDDEN:
		return http.StatusForbidden
	case event.ECONFLICT:
		return http.StatusConflict
	case event.ERATELIMIT:
		return http.StatusTooManyRequests
	case event.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code (an event error code) and a message safe to show.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError answers with err, its status from its code. Errors that are
// not *event.Error are answered as "internal error" and logged with their
// detail, which never reaches the caller.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	code := event.ErrorCode(err)
	status := StatusOf(code)
	if status >= 500 {
		slog.ErrorContext(r.Context(), "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("code", code), slog.Any("err", err))
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: event.ErrorMessage(err)}})
}

// Refuse answers with an error of this status and code, for refusals the
// code alone does not say (405, a login limit's wording).
func Refuse(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// WriteJSON answers with v as JSON and the status. Answers are never
// cached: they are the state at one moment, or a refusal.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true) // posts carry HTML; keep it inert if a body is ever sniffed
	_ = enc.Encode(v)       // the client went away; nothing to tell it
}
