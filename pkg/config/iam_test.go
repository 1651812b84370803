package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/record"
)

// The template's roles as CloudFormation would receive them, after the SAM
// transform: SAM attaches managed policies of its own (for an SQS event,
// AWSLambdaSQSQueueExecutionRole, which may receive and delete on every
// queue), so reading the template as written proves nothing about the
// deployed roles. goformation cannot run the transform; cfn-lint's SAM
// translator can, and cfn-lint is what `make lint` runs anyway.

// requireCfnLint makes a missing cfn-lint fail the test instead of skipping
// it; `make test` sets it, as it sets ENROLLHOOK_REQUIRE_RIE.
const requireCfnLint = "ENROLLHOOK_REQUIRE_CFNLINT"

// wideManaged lists AWS managed policies that grant SQS, DynamoDB or STS
// actions on every resource ("*"), with what they grant there. SAM attaches
// the first two by itself for an SQS or DynamoDB event source when it
// generates the function's role.
var wideManaged = map[string]string{
	"AWSLambdaSQSQueueExecutionRole": "sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes on every queue",
	"AWSLambdaDynamoDBExecutionRole": "dynamodb:DescribeStream, GetRecords, GetShardIterator, ListStreams on every table's stream",
	"AWSLambdaInvocation-DynamoDB":   "dynamodb:DescribeStream, GetRecords, GetShardIterator, ListStreams on every table's stream",
	"AmazonSQSFullAccess":            "sqs:* on every queue",
	"AmazonSQSReadOnlyAccess":        "sqs:GetQueueAttributes, GetQueueUrl, ListQueues, ... on every queue",
	"AmazonDynamoDBFullAccess":       "dynamodb:* on every table",
	"AmazonDynamoDBFullAccess_v2":    "dynamodb:* on every table",
	"AmazonDynamoDBReadOnlyAccess":   "dynamodb:BatchGetItem, GetItem, Query, Scan, ... on every table",
	"AdministratorAccess":            "every action, sqs:*, dynamodb:* and sts:* included, on every resource",
	"PowerUserAccess":                "every action but IAM, Organizations and Account, sqs:*, dynamodb:* and sts:* included, on every resource",
	"ReadOnlyAccess":                 "read actions of every service, SQS and DynamoDB included, on every resource",
}

// narrowManaged lists AWS managed policies known to grant nothing of SQS,
// DynamoDB or STS. Any other AWS managed policy is refused until someone
// reads its document and adds it to one of the two lists.
var narrowManaged = []string{
	"AWSLambdaBasicExecutionRole",     // logs:CreateLogGroup, CreateLogStream, PutLogEvents
	"AWSXRayDaemonWriteAccess",        // xray:Put*, Get* for tracing
	"AWSXrayWriteOnlyAccess",          // the same, older name
	"AWSLambdaVPCAccessExecutionRole", // ec2 network interfaces, logs
}

// withoutResourceType lists actions of these services that take no resource
// type, so "*" is the only Resource they accept (the Service Authorization
// Reference leaves their resource column empty). A statement with one of
// them on "*" passes only with a Condition, which is then what narrows it:
// the template's token statement (audience, algorithm, lifetime) is one.
var withoutResourceType = []string{"sts:GetWebIdentityToken"}

// narrowedServices are the services whose grants on every resource the
// check refuses.
var narrowedServices = []string{"sqs:", "dynamodb:", "sts:"}

// transformed renders a SAM template through cfn-lint's SAM translator
// (testdata/samtransform.py) and returns the CloudFormation template as
// generic JSON. It skips the test when cfn-lint is not installed for the
// interpreter (ENROLLHOOK_PYTHON, else python3), unless
// ENROLLHOOK_REQUIRE_CFNLINT is set.
func transformed(t *testing.T, path string) map[string]any {
	t.Helper()
	transformedMu.Lock()
	defer transformedMu.Unlock()
	if doc, ok := transformedCache[path]; ok {
		return doc
	}
	python := os.Getenv("ENROLLHOOK_PYTHON")
	if python == "" {
		python = "python3"
	}
	missing := func(why string) {
		if os.Getenv(requireCfnLint) != "" {
			t.Fatalf("%s, but %s is set: install cfn-lint (pip install cfn-lint) for %s, or set ENROLLHOOK_PYTHON to the interpreter cfn-lint runs on", why, requireCfnLint, python)
		}
		t.Skipf("%s: the SAM transform is not checked (make test requires it)", why)
	}
	if _, err := exec.LookPath(python); err != nil {
		missing(python + " not found")
	}
	cmd := exec.Command(python, "testdata/samtransform.py", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		missing(strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("SAM transform of %s: %v\n%s", path, err, stderr.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("SAM transform of %s: %v", path, err)
	}
	transformedCache[path] = doc
	return doc
}

// transformedCache keeps each transform's result for the package's tests:
// a transform takes seconds (Python and cfn-lint start), and the tests only
// read the result.
var (
	transformedMu    sync.Mutex
	transformedCache = map[string]map[string]any{}
)

// asList reads a policy element that is one value or a list of them.
func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// resourceName renders a Resource value: a literal as it is, !GetAtt X.Arn
// as "X.Arn", !Ref X as "Ref X", !Sub as its string, anything else as JSON.
func resourceName(v any) string {
	switch r := v.(type) {
	case string:
		return r
	case map[string]any:
		if at, ok := r["Fn::GetAtt"].([]any); ok && len(at) == 2 {
			return fmt.Sprintf("%v.%v", at[0], at[1])
		}
		if at, ok := r["Fn::GetAtt"].(string); ok {
			return at
		}
		if name, ok := r["Ref"].(string); ok {
			return "Ref " + name
		}
		if sub, ok := r["Fn::Sub"].(string); ok {
			return sub
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// managedName is the name of a managed policy from its ARN (literal or
// !Sub), without its path: .../policy/service-role/X is X. aws reports
// whether it is an AWS managed policy (account "aws").
func managedName(arn any) (name string, aws bool) {
	s := resourceName(arn)
	_, policy, found := strings.Cut(s, ":policy/")
	if !found {
		return s, false
	}
	return policy[strings.LastIndex(policy, "/")+1:], strings.Contains(s, ":iam::aws:policy/")
}

// wideStatements returns a reason for each statement of doc (a policy
// document) that allows an SQS, DynamoDB or STS action on every resource:
// Resource "*", a wildcard ARN, or NotResource.
func wideStatements(where string, doc any) []string {
	d, _ := doc.(map[string]any)
	var found []string
	for _, s := range asList(d["Statement"]) {
		st, _ := s.(map[string]any)
		if st["Effect"] != "Allow" {
			continue
		}
		var narrowed []string
		for _, a := range asList(st["Action"]) {
			action := strings.ToLower(fmt.Sprint(a))
			if action == "*" || slices.ContainsFunc(narrowedServices, func(p string) bool { return strings.HasPrefix(action, p) }) {
				narrowed = append(narrowed, fmt.Sprint(a))
			}
		}
		if _, ok := st["NotAction"]; ok {
			narrowed = append(narrowed, "NotAction "+resourceName(st["NotAction"]))
		}
		if len(narrowed) == 0 {
			continue
		}
		var wide []string
		for _, r := range asList(st["Resource"]) {
			if name := resourceName(r); strings.Contains(name, "*") {
				wide = append(wide, name)
			}
		}
		if nr, ok := st["NotResource"]; ok {
			wide = append(wide, "NotResource "+resourceName(nr))
		}
		if len(wide) == 0 {
			continue
		}
		exempt := st["Condition"] != nil && !slices.ContainsFunc(narrowed, func(a string) bool {
			return !slices.ContainsFunc(withoutResourceType, func(e string) bool { return strings.EqualFold(a, e) })
		})
		if !exempt {
			found = append(found, fmt.Sprintf("%s: %s on %s", where, strings.Join(narrowed, ", "), strings.Join(wide, ", ")))
		}
	}
	return found
}

// wideGrants returns every way a role of the (transformed) template gets
// SQS, DynamoDB or STS on every resource: an AWS managed policy known to
// grant that, an AWS managed policy nobody has classified, a managed policy
// from outside the template, and policy statements (inline, AWS::IAM::Policy,
// AWS::IAM::ManagedPolicy) with such a grant.
func wideGrants(doc map[string]any) []string {
	resources, _ := doc["Resources"].(map[string]any)
	var found []string
	for name, r := range resources {
		res, _ := r.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		switch res["Type"] {
		case "AWS::IAM::Role":
			for _, arn := range asList(props["ManagedPolicyArns"]) {
				if m, ok := arn.(map[string]any); ok && m["Ref"] != nil {
					continue // a policy of this template: its statements are checked below
				}
				policy, aws := managedName(arn)
				switch {
				case wideManaged[policy] != "":
					found = append(found, fmt.Sprintf("role %s: AWS managed policy %s grants %s", name, policy, wideManaged[policy]))
				case !aws:
					found = append(found, fmt.Sprintf("role %s: managed policy %s is not in this template, so what it grants cannot be checked", name, resourceName(arn)))
				case !slices.Contains(narrowManaged, policy):
					found = append(found, fmt.Sprintf("role %s: AWS managed policy %s is in neither wideManaged nor narrowManaged: read its document and list it", name, policy))
				}
			}
			for _, p := range asList(props["Policies"]) {
				pol, _ := p.(map[string]any)
				found = append(found, wideStatements(fmt.Sprintf("role %s, inline policy %v", name, pol["PolicyName"]), pol["PolicyDocument"])...)
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy":
			found = append(found, wideStatements(fmt.Sprintf("%s %s", res["Type"], name), props["PolicyDocument"])...)
		}
	}
	slices.Sort(found)
	return found
}

// TestTemplateRolesAfterTransform: after the SAM transform, no role of the
// template carries a managed policy or a statement that grants SQS,
// DynamoDB or STS on every resource.
func TestTemplateRolesAfterTransform(t *testing.T) {
	doc := transformed(t, templatePath)
	if found := wideGrants(doc); len(found) > 0 {
		t.Errorf("after the SAM transform, roles grant SQS, DynamoDB or STS on every resource:\n  %s\n"+
			"declare the function's role (AWS::IAM::Role, Role: !GetAtt) with statements on its own resources instead", strings.Join(found, "\n  "))
	}
}

// TestWideGrantsCatches: the check is not a no-op. The worker as the
// template had it before its role was declared (SAM's role, with
// AWSLambdaSQSQueueExecutionRole for its SQS event) and a template with every
// other kind of wide grant are refused, each for the right reason.
func TestWideGrantsCatches(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    []string
	}{
		{"testdata/iam/sqs-event-sam-role.yaml", []string{
			"role WorkerFunctionRole: AWS managed policy AWSLambdaSQSQueueExecutionRole grants sqs:ReceiveMessage",
		}},
		{"testdata/iam/wide-grants.yaml", []string{
			"role StreamFunctionRole: AWS managed policy AWSLambdaDynamoDBExecutionRole",
			"role StreamFunctionRole: AWS managed policy AmazonSQSFullAccess",
			"role StreamFunctionRole, inline policy StreamFunctionRolePolicy1: sts:AssumeRole on *",
			"role DeclaredRole: AWS managed policy AmazonDynamoDBReadOnlyAccess",
			"role DeclaredRole: AWS managed policy SomePolicyNobodyReviewed is in neither",
			"role DeclaredRole, inline policy wide: dynamodb:GetItem on arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*",
			"role DeclaredRole, inline policy wide: sqs:SendMessage on NotResource Table.Arn",
			"AWS::IAM::Policy ExtraPolicy: sqs:* on *",
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			found := wideGrants(transformed(t, tc.fixture))
			for _, want := range tc.want {
				if !slices.ContainsFunc(found, func(f string) bool { return strings.HasPrefix(f, want) }) {
					t.Errorf("wideGrants(%s) lacks %q; found:\n  %s", tc.fixture, want, strings.Join(found, "\n  "))
				}
			}
			// AWSLambdaBasicExecutionRole grants logs only.
			for _, f := range found {
				if strings.Contains(f, "AWSLambdaBasicExecutionRole") {
					t.Errorf("wideGrants(%s) = %q: AWSLambdaBasicExecutionRole grants no SQS, DynamoDB or STS", tc.fixture, f)
				}
			}
			if len(found) != len(tc.want) {
				t.Errorf("wideGrants(%s) found %d, want %d:\n  %s", tc.fixture, len(found), len(tc.want), strings.Join(found, "\n  "))
			}
		})
	}
	// The token statement's exemption needs its condition.
	st := map[string]any{"Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}}}
	if got := wideStatements("bare", st); len(got) != 1 {
		t.Errorf("wideStatements(sts:GetWebIdentityToken on * without a condition) = %q, want it refused", got)
	}
}

// grant is one action on one resource, as the roles' tables below spell it.
type grant struct{ action, resource string }

// TestTemplateRolesHoldWhatTheCodeUses: after the SAM transform, each
// function runs with its own role, and that role holds exactly these
// grants: no managed policy, no other policy attached, nothing more. The
// conditions of the token statement are checked on the template as written
// (TestTemplateFederationPolicy).
func TestTemplateRolesHoldWhatTheCodeUses(t *testing.T) {
	// The schedules of the stack's group, and nothing else of the
	// Scheduler.
	const scheduleARN = "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${ScheduleGroup}/*"
	shared := []grant{
		{"sts:GetWebIdentityToken", "*"},
		{"dynamodb:DeleteItem", "DeliveryTable.Arn"},
		{"dynamodb:GetItem", "DeliveryTable.Arn"},
		{"dynamodb:PutItem", "DeliveryTable.Arn"},
		{"dynamodb:UpdateItem", "DeliveryTable.Arn"},
		{"dynamodb:GetItem", "ChangeTable.Arn"},
		{"dynamodb:PutItem", "ChangeTable.Arn"},
		{"dynamodb:Query", "ChangeTable.Arn"},
		{"dynamodb:Query", "${ChangeTable.Arn}/index/" + record.IndexAssignment},
	}
	want := map[string][]grant{
		"WebhookFunction": append(slices.Clone(shared),
			grant{"sqs:SendMessage", "ChangeQueue.Arn"},
			grant{"scheduler:CreateSchedule", scheduleARN},
			grant{"scheduler:UpdateSchedule", scheduleARN},
			grant{"scheduler:DeleteSchedule", scheduleARN},
			grant{"iam:PassRole", "ScheduleRole.Arn"},
			grant{"logs:CreateLogStream", "WebhookLogGroup.Arn"},
			grant{"logs:PutLogEvents", "WebhookLogGroup.Arn"}),
		"WorkerFunction": append(slices.Clone(shared),
			grant{"sqs:ReceiveMessage", "ChangeQueue.Arn"},
			grant{"sqs:DeleteMessage", "ChangeQueue.Arn"},
			grant{"sqs:GetQueueAttributes", "ChangeQueue.Arn"},
			grant{"sqs:SendMessage", "ChangeDeadLetterQueue.Arn"},
			grant{"scheduler:DeleteSchedule", scheduleARN},
			grant{"logs:CreateLogStream", "WorkerLogGroup.Arn"},
			grant{"logs:PutLogEvents", "WorkerLogGroup.Arn"}),
		"EventsFunction": append(slices.Clone(shared),
			grant{"sqs:SendMessage", "EventsDeadLetterQueue.Arn"},
			grant{"scheduler:DeleteSchedule", scheduleARN},
			grant{"logs:CreateLogStream", "EventsLogGroup.Arn"},
			grant{"logs:PutLogEvents", "EventsLogGroup.Arn"}),
	}

	doc := transformed(t, templatePath)
	resources, _ := doc["Resources"].(map[string]any)
	props := func(name string) map[string]any {
		res, _ := resources[name].(map[string]any)
		p, _ := res["Properties"].(map[string]any)
		return p
	}
	var functions []string
	for name, r := range resources {
		if res, _ := r.(map[string]any); res["Type"] == "AWS::Lambda::Function" {
			functions = append(functions, name)
		}
	}
	slices.Sort(functions)
	if !slices.Equal(functions, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("functions after the transform = %q; list each one's grants in this test", functions)
	}
	roles := map[string]string{}
	for _, fn := range functions {
		role := strings.TrimSuffix(resourceName(props(fn)["Role"]), ".Arn")
		if res, _ := resources[role].(map[string]any); res == nil || res["Type"] != "AWS::IAM::Role" {
			t.Errorf("%s: Role = %v, want !GetAtt of a role of this template", fn, props(fn)["Role"])
			continue
		}
		if other, shared := roles[role]; shared {
			t.Errorf("%s and %s share role %s: each function needs its own", other, fn, role)
		}
		roles[role] = fn

		w := slices.Clone(want[fn])
		// Tracing needs the X-Ray daemon's two actions, which take no
		// resource type; SAM adds them only to a role it generates.
		if tc, _ := props(fn)["TracingConfig"].(map[string]any); tc["Mode"] == "Active" {
			w = append(w, grant{"xray:PutTraceSegments", "*"}, grant{"xray:PutTelemetryRecords", "*"})
		}
		got := roleGrants(t, resources, role)
		key := func(g grant) string { return g.action + " on " + g.resource }
		gotKeys, wantKeys := sortedKeys(got, key), sortedKeys(w, key)
		if !slices.Equal(gotKeys, wantKeys) {
			t.Errorf("%s (%s) grants after the transform:\n  %s\nwant:\n  %s", role, fn, strings.Join(gotKeys, "\n  "), strings.Join(wantKeys, "\n  "))
		}
	}
}

// roleGrants lists what a role of the transformed template allows: its
// inline statements, any policy resource that names it, and its managed
// policies as grants of "managed policy NAME" (which no table expects).
func roleGrants(t *testing.T, resources map[string]any, role string) []grant {
	t.Helper()
	var docs []any
	var got []grant
	for name, r := range resources {
		res, _ := r.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		switch {
		case name == role:
			for _, arn := range asList(props["ManagedPolicyArns"]) {
				policy, _ := managedName(arn)
				got = append(got, grant{"managed policy " + policy, "its own resources"})
			}
			for _, p := range asList(props["Policies"]) {
				pol, _ := p.(map[string]any)
				docs = append(docs, pol["PolicyDocument"])
			}
		case res["Type"] == "AWS::IAM::Policy" || res["Type"] == "AWS::IAM::ManagedPolicy" || res["Type"] == "AWS::IAM::RolePolicy":
			for _, ref := range append(asList(props["Roles"]), props["RoleName"]) {
				if resourceName(ref) == "Ref "+role {
					docs = append(docs, props["PolicyDocument"])
				}
			}
		}
	}
	for _, d := range docs {
		doc, _ := d.(map[string]any)
		for _, s := range asList(doc["Statement"]) {
			st, _ := s.(map[string]any)
			if st["Effect"] != "Allow" || st["NotAction"] != nil || st["NotResource"] != nil {
				t.Errorf("%s: statement %v: only Allow with Action and Resource is expected", role, st)
				continue
			}
			for _, a := range asList(st["Action"]) {
				for _, r := range asList(st["Resource"]) {
					got = append(got, grant{fmt.Sprint(a), resourceName(r)})
				}
			}
		}
	}
	return got
}

func sortedKeys[T any](items []T, key func(T) string) []string {
	keys := make([]string, 0, len(items))
	for _, it := range items {
		keys = append(keys, key(it))
	}
	slices.Sort(keys)
	return keys
}
