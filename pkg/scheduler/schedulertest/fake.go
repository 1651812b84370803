// Package schedulertest is an in-process fake of the part of the
// EventBridge Scheduler REST API that package scheduler calls
// (CreateSchedule, UpdateSchedule, DeleteSchedule), on a loopback HTTP
// server, for tests: no emulator of the Scheduler exists to run here.
package schedulertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
)

// Schedule is a schedule the fake holds.
type Schedule struct {
	Name, Group, Expression string
	At                      time.Time
	Input                   []byte
	TargetARN, RoleARN      string
	DeadLetterARN           string
}

// Fake is the fake Scheduler.
type Fake struct {
	srv *httptest.Server

	mu        sync.Mutex
	schedules map[string]*Schedule // by group/name
	calls     []string             // "POST name", "PUT name", "DELETE name"
}

// New starts the fake; it stops with the test.
func New(t testing.TB) *Fake {
	f := &Fake{schedules: map[string]*Schedule{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Client is an *awsapi.Client of the fake, signing with test credentials.
func (f *Fake) Client(t testing.TB) *awsapi.Client {
	t.Helper()
	c, err := awsapi.New(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}, "scheduler")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Schedules returns the schedules held, by name.
func (f *Fake) Schedules() []Schedule {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Schedule, 0, len(f.schedules))
	for _, s := range f.schedules {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Calls returns the calls made, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Fire runs the schedules due at now, as the Scheduler does: it returns
// their inputs (what the target queue receives) and deletes them
// (ActionAfterCompletion DELETE).
func (f *Fake) Fire(now time.Time) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for k, s := range f.schedules {
		if !s.At.After(now) {
			out = append(out, s.Input)
			delete(f.schedules, k)
		}
	}
	return out
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(w, http.StatusForbidden, "AccessDeniedException", "unsigned")
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/schedules/")
	if !ok || name == "" {
		fail(w, http.StatusNotFound, "ResourceNotFoundException", "no such route")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+name)
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		var body struct {
			GroupName                  string
			ScheduleExpression         string
			ScheduleExpressionTimezone string
			ActionAfterCompletion      string
			FlexibleTimeWindow         struct{ Mode string }
			Target                     struct {
				Arn, RoleArn, Input string
				DeadLetterConfig    struct{ Arn string }
			}
		}
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil || body.GroupName == "" || body.Target.Arn == "" || body.Target.RoleArn == "" ||
			body.ScheduleExpressionTimezone != "UTC" || body.FlexibleTimeWindow.Mode != "OFF" || body.ActionAfterCompletion != "DELETE" {
			fail(w, http.StatusBadRequest, "ValidationException", "incomplete schedule")
			return
		}
		expr, ok := strings.CutPrefix(body.ScheduleExpression, "at(")
		at, err := time.Parse("2006-01-02T15:04:05)", expr)
		if !ok || err != nil {
			fail(w, http.StatusBadRequest, "ValidationException", "not an at() expression")
			return
		}
		key := body.GroupName + "/" + name
		_, exists := f.schedules[key]
		switch {
		case r.Method == http.MethodPost && exists:
			fail(w, http.StatusConflict, "ConflictException", "schedule exists")
			return
		case r.Method == http.MethodPut && !exists:
			fail(w, http.StatusNotFound, "ResourceNotFoundException", "no such schedule")
			return
		}
		f.schedules[key] = &Schedule{Name: name, Group: body.GroupName, Expression: body.ScheduleExpression, At: at,
			Input: []byte(body.Target.Input), TargetARN: body.Target.Arn, RoleARN: body.Target.RoleArn, DeadLetterARN: body.Target.DeadLetterConfig.Arn}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ScheduleArn":"arn:aws:scheduler:eu-west-1:123456789012:schedule/`+body.GroupName+`/`+name+`"}`)
	case http.MethodDelete:
		key := r.URL.Query().Get("groupName") + "/" + name
		if _, exists := f.schedules[key]; !exists {
			fail(w, http.StatusNotFound, "ResourceNotFoundException", "no such schedule")
			return
		}
		delete(f.schedules, key)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	default:
		fail(w, http.StatusMethodNotAllowed, "ValidationException", "method")
	}
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Message": msg})
}
