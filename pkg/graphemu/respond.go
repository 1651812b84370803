package graphemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Response header values.
const (
	// graphContentType is what Graph answers JSON with.
	graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	agsDiagnostic    = `{"ServerInfo":{"DataCenter":"Local Emulator","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"GRAPHEMU000001"}}`
	// intuneHost and intuneAPIVersion only decorate the Url in Intune's
	// nested error message.
	intuneHost       = "https://fef.msua06.manage.microsoft.com"
	intuneAPIVersion = "5025-11-02"
	// operationID is what Intune shows customers when it has none to give.
	operationID = "00000000-0000-0000-0000-000000000000"
)

// marshal encodes without HTML escaping, as Graph does.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// json answers status with v as the body.
func (x *exchange) json(status int, v any) {
	b := mustMarshal(v)
	h := x.w.Header()
	h.Set("Content-Type", graphContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	x.status = status
	x.w.WriteHeader(status)
	_, _ = x.w.Write(b)
}

// noContent answers 204 with no body and so no Content-Type.
func (x *exchange) noContent() {
	x.status = http.StatusNoContent
	x.w.WriteHeader(http.StatusNoContent)
}

// errorBody is the OData error body Graph answers with.
type errorBody struct {
	Error mainError `json:"error"`
}

type mainError struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Code            string `json:"code,omitempty"`
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// fail answers a Graph error. reason is kept for Call.Reason only.
func (x *exchange) fail(status int, code, message, reason string) {
	x.failInner(status, code, "", message, reason)
}

func (x *exchange) failInner(status int, code, innerCode, message, reason string) {
	x.code, x.reason = code, reason
	x.json(status, errorBody{Error: mainError{
		Code:    code,
		Message: message,
		InnerError: innerError{
			Code: innerCode,
			// Graph writes innerError's date without a zone.
			Date:            x.now.UTC().Format("2006-01-02T15:04:05"),
			RequestID:       x.requestID,
			ClientRequestID: x.clientRequestID,
		},
	}})
}

// intuneMessage is the serialized JSON document Intune puts in
// error.message. Its Activity ID is the request-id, so a test (or an
// operator) can tie the two together.
type intuneMessage struct {
	Version              int     `json:"_version"`
	Message              string  `json:"Message"`
	CustomAPIErrorPhrase string  `json:"CustomApiErrorPhrase"`
	RetryAfter           *string `json:"RetryAfter"`
	ErrorSourceService   string  `json:"ErrorSourceService"`
	HTTPHeaders          string  `json:"HttpHeaders"`
}

// failIntune answers an error from the Intune service behind Graph, whose
// message is generic and nested: a JSON document serialized into Graph's
// message string.
func (x *exchange) failIntune(status int, code, reason string) {
	msg := mustMarshal(intuneMessage{
		Version: 3,
		Message: "An error has occurred - Operation ID (for customer support): " + operationID +
			" - Activity ID: " + x.requestID +
			" - Url: " + intuneHost + x.route.servicePath() + "?api-version=" + intuneAPIVersion,
		HTTPHeaders: "{}",
	})
	x.fail(status, code, string(msg), reason)
}

// servicePath is the route as Intune's StatelessOnboardingService names it.
func (r route) servicePath() string {
	var b strings.Builder
	b.WriteString("/StatelessOnboardingService/deviceManagement/deviceEnrollmentConfigurations")
	if r.kind == routeConfigs {
		return b.String()
	}
	b.WriteString(odataKey(r.cfg))
	switch r.kind {
	case routeAssignments:
		b.WriteString("/assignments")
	case routeAssignment:
		b.WriteString("/assignments" + odataKey(r.asg))
	case routeAssign:
		b.WriteString("/assign")
	case routeSetPriority:
		b.WriteString("/setPriority")
	}
	return b.String()
}

func odataKey(id string) string {
	return "('" + url.PathEscape(strings.ReplaceAll(id, "'", "''")) + "')"
}

// failStatus maps a status injected by Fail to the code Graph uses for it.
func failStatus(status int) (code, message string) {
	switch status {
	case http.StatusInternalServerError:
		return "InternalError", "An internal server error occurred."
	case http.StatusBadGateway:
		return "BadGateway", "The gateway received an invalid response from the service."
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable", "The service is temporarily unavailable. Retry later."
	case http.StatusGatewayTimeout:
		return "GatewayTimeout", "The gateway timed out waiting for the service."
	case http.StatusTooManyRequests:
		return CodeThrottled, "Too many requests."
	}
	return "UnknownError", http.StatusText(status)
}

// httpDate is the Date header form.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
