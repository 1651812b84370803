package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// OpAssign names the assign action, as logged and in ResponseError.Operation.
const OpAssign = "assign"

// CodeNoRoute is the error code Intune answers (with status 400, and yes,
// with spaces) when it has no route for a write on the item routes of
// assignments: Intune has been reported to refuse those routes for some
// configuration types, which is why the assign action is the fallback.
const CodeNoRoute = "No method match route template"

// AssignAll replaces the complete assignment set of a configuration with the
// assign action, POST .../deviceEnrollmentConfigurations/{id}/assign with
// {"enrollmentConfigurationAssignments": assignments}, as Graph documents
// the action for enrollment configurations. Graph answers 204 without a body; read the set back with
// ListAssignments. Every assignment the configuration should keep must be
// in assignments: one left out is removed. An empty set is refused without a
// call, since it would remove every assignment.
//
// POST is not idempotent in general, but assign is a full replacement: the
// same body sent twice leaves the same set, so the call is retried on 429,
// 503, 504 and dropped connections like the PATCH, under the same budget.
//
// Errors are those of PatchAssignment; 404 means the configuration does not
// exist.
func (c *Client) AssignAll(ctx context.Context, configurationID string, assignments []json.RawMessage) (*Result, error) {
	if err := checkKey("/configurationId", configurationID); err != nil {
		return nil, err
	}
	if len(assignments) == 0 {
		return nil, errors.New("graph: assign: an empty set would remove every assignment of the configuration")
	}
	for _, a := range assignments {
		if !isJSONObject(a) {
			return nil, errors.New("graph: assign: every assignment must be a JSON object")
		}
	}
	body := struct {
		Assignments []json.RawMessage `json:"enrollmentConfigurationAssignments"`
	}{assignments}
	o, err := c.send(ctx, &call{op: OpAssign, method: http.MethodPost, url: c.configurationURL(configurationID, "/assign", ""),
		cfg: configurationID, body: body, notFound: msgConfigurationNotFound})
	if err != nil {
		return nil, err
	}
	return &Result{
		RequestID:       o.requestID,
		ClientRequestID: o.state.clientRequestID,
		Retries:         o.state.attempts - 1,
		StatusCode:      o.status,
	}, nil
}

// IsRouteRefused reports whether err is Graph refusing the route rather than
// the change: 400 "No method match route template", or 405. The assign
// action is the way around it.
func IsRouteRefused(err error) bool {
	var re *ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusMethodNotAllowed ||
		re.StatusCode == http.StatusBadRequest && re.ErrorCode == CodeNoRoute
}
