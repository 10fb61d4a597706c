package wall

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/backchannel/backchannel/event"
)

// StatusOf maps an event error code to its HTTP status: the one place
// this mapping lives.
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

// ErrorBody is the JSON body of every error response:
// {"error":{"code":"not_found","message":"no event \"x\""}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code (an event error code) and a message safe to show.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError answers with err as JSON, its status from its code. Errors
// that are not *event.Error are answered as "internal error" and logged
// with their detail, which never reaches the caller.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	code := event.ErrorCode(err)
	status := StatusOf(code)
	if status >= 500 {
		slog.ErrorContext(r.Context(), "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("code", code), slog.Any("err", err))
	}
	var ee *event.Error
	if status == http.StatusServiceUnavailable && errors.As(err, &ee) {
		w.Header().Set("Retry-After", "5")
	}
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: event.ErrorMessage(err)}})
}

// WriteJSON answers with v as JSON and the status. API responses are never
// cached: they are the fold's state at one moment.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true) // posts carry HTML; keep it inert if a body is ever sniffed
	_ = enc.Encode(v)       // the client went away; nothing to tell it
}
