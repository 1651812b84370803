package config_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/worker"
)

// templatePath is the SAM template at the module root.
const templatePath = "../../template.yaml"

// notDeployed are the keys config reads that the template must not set:
// the local server's address, and the path of a policy file (the
// deployment package holds none: the template passes the policy itself as
// ENROLLHOOK_POLICY_JSON, TestTemplatePolicy).
var notDeployed = []string{config.EnvAddr, config.EnvPolicy,
	// Lambda sets AWS_REGION itself (a reserved variable); the others belong
	// to credential modes and clouds Lambda cannot use (no Azure host, no
	// projected token, no key file).
	config.EnvAWSRegion, config.EnvFederatedTokenFile, config.EnvClientCertificate, config.EnvClientCertificatePwd,
	config.EnvManagedObjectID, config.EnvManagedResourceID, config.EnvAuthorityHost}

// workerOnly are the keys config reads that only the worker sets: the
// webhook sends nothing to the dead-letter queue (its in-process queue's
// workers do, under `make run`, where the template plays no part).
var workerOnly = []string{config.EnvDeadLetterURL}

// deployedByLambda are values the Lambda runtime sets, used when the test
// loads the template's configuration.
var deployedByLambda = map[string]string{config.EnvAWSRegion: "eu-west-1"}

// requiredParameters are sample answers for the parameters without a
// default, which `sam deploy` asks for.
var requiredParameters = map[string]string{
	"EntraTenantId": "8a1b2c3d-0000-4000-8000-00000000a11c",
	"EntraClientId": "5f6e7d8c-0000-4000-8000-0000000000a9",
}

// deployedResources are sample values of the resources the environment
// refers to with Ref (a table's name, a queue's URL), as CloudFormation
// resolves them.
var deployedResources = map[string]string{
	"DeliveryTable":         "enrollhook-DeliveryTable-1A2B3C4D5E6F",
	"ChangeTable":           "enrollhook-ChangeTable-6F5E4D3C2B1A",
	"ChangeQueue":           "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-ChangeQueue-1A2B3C4D5E6F",
	"ChangeDeadLetterQueue": "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-ChangeDeadLetterQueue-6F5E4D3C2B1A",
	"ScheduleGroup":         "enrollhook-windows",
}

// scheduleARNs are the settings the template gives a resource's ARN
// (!GetAtt X.Arn), and sampleARNs what they are once deployed.
var (
	scheduleARNs = map[string]string{config.EnvScheduleRoleARN: "ScheduleRole", config.EnvScheduleDeadLetterARN: "ScheduleDeadLetterQueue",
		config.EnvQueueARN: "ChangeQueue"}
	sampleARNs = map[string]string{"ScheduleRole": "arn:aws:iam::123456789012:role/enrollhook-ScheduleRole-1A2B",
		"ScheduleDeadLetterQueue": "arn:aws:sqs:eu-west-1:123456789012:enrollhook-ScheduleDeadLetterQueue-1A2B",
		"ChangeQueue":             "arn:aws:sqs:eu-west-1:123456789012:enrollhook-ChangeQueue-1A2B3C4D5E6F"}
)

// labSecret is what a lab deployment passes as EntraClientSecret.
const labSecret = "resolved-from-secrets-manager"

// unmodelled lists the AWS::Serverless::Function properties that SAM knows
// and goformation v7.14.9 does not: its serverless.Function decodes with
// DisallowUnknownFields and fails on them. The test takes them out of the
// template before goformation parses it and checks them on the generic
// JSON form instead.
var unmodelled = []string{"LoggingConfig", "ReservedConcurrentExecutions"}

// samTemplate is the template as goformation parsed it, plus what goformation
// could not hold.
type samTemplate struct {
	*cloudformation.Template
	// Unmodelled maps a function's logical id to the properties listed in
	// unmodelled, as generic JSON values.
	Unmodelled map[string]map[string]any
}

// loadTemplate parses the SAM template with goformation.
//
// goformation resolves intrinsic functions by default: a Ref to a parameter
// becomes the parameter's default and Fn::GetAtt becomes nil, which would
// hide how a value is wired. The Ref, Fn::GetAtt and Fn::Sub handlers are
// therefore replaced by one that keeps the call, encoded the way goformation
// encodes intrinsics inside string properties (base64 of the JSON form);
// intrinsic() decodes it.
func loadTemplate(t *testing.T) samTemplate {
	t.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatalf("read %s: %v", templatePath, err)
	}
	// Long form JSON, intrinsics untouched (short tags such as !Ref become
	// {"Ref": ...}).
	raw, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("%s is not a valid template: %v", templatePath, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decode %s: %v", templatePath, err)
	}
	extra := map[string]map[string]any{}
	resources, _ := doc["Resources"].(map[string]any)
	for name, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::Serverless::Function" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		for _, p := range unmodelled {
			if v, ok := props[p]; ok {
				if extra[name] == nil {
					extra[name] = map[string]any{}
				}
				extra[name][p] = v
				delete(props, p)
			}
		}
	}
	stripped, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	keep := func(name string, input, _ any) any {
		b, err := json.Marshal(map[string]any{name: input})
		if err != nil {
			return nil
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	tmpl, err := goformation.ParseJSONWithOptions(stripped, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": keep, "Fn::GetAtt": keep, "Fn::Sub": keep, "Fn::FindInMap": keep,
		},
	})
	if err != nil {
		t.Fatalf("goformation cannot parse %s: %v", templatePath, err)
	}
	return samTemplate{Template: tmpl, Unmodelled: extra}
}

// intrinsic decodes a value kept by loadTemplate: the function name (Ref,
// Fn::GetAtt, Fn::Sub) and its argument. ok is false for a literal.
func intrinsic(v any) (name string, arg any, ok bool) {
	s, isString := v.(string)
	if !isString {
		return "", nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		return k, v, true
	}
	return "", nil, false
}

// ref returns the logical name v refers to with Ref.
func ref(v any) (string, bool) {
	name, arg, ok := intrinsic(v)
	target, isString := arg.(string)
	return target, ok && name == "Ref" && isString
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func TestTemplateFunction(t *testing.T) {
	tmpl := loadTemplate(t)
	if tr := tmpl.Transform; tr == nil || deref(tr.String) != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform = %+v, want AWS::Serverless-2016-10-31", tr)
	}
	fns := tmpl.GetAllServerlessFunctionResources()
	if len(fns) != 3 {
		t.Errorf("template has %d serverless functions, want 3 (WebhookFunction, WorkerFunction, EventsFunction)", len(fns))
	}
	for _, name := range []string{"WebhookFunction", "WorkerFunction", "EventsFunction"} {
		t.Run(name, func(t *testing.T) { checkFunction(t, tmpl, name) })
	}
}

// checkFunction: what both functions share: the bootstrap built by the
// Makefile, arm64, JSON logs in its own log group, its own role declared in
// the template.
func checkFunction(t *testing.T, tmpl samTemplate, name string) {
	fn, err := tmpl.GetServerlessFunctionWithName(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got := deref(fn.Handler); got != "bootstrap" {
		t.Errorf("Handler = %q, want bootstrap", got)
	}
	if got := deref(fn.Runtime); got != "provided.al2023" {
		t.Errorf("Runtime = %q, want provided.al2023", got)
	}
	if !slices.Equal(fn.Architectures, []string{"arm64"}) {
		t.Errorf("Architectures = %q, want [arm64]", fn.Architectures)
	}
	if fn.CodeUri == nil || deref(fn.CodeUri.String) != "." {
		t.Errorf("CodeUri = %+v, want . (the Makefile at the module root builds it)", fn.CodeUri)
	}
	if got := fn.AWSCloudFormationMetadata["BuildMethod"]; got != "makefile" {
		t.Errorf("Metadata.BuildMethod = %v, want makefile (SAM then runs make build-%s)", got, name)
	}
	if mk, err := os.ReadFile("../../Makefile"); err != nil || !strings.Contains(string(mk), "\nbuild-"+name+":") {
		t.Errorf("the Makefile has no build-%s target", name)
	}
	// API Gateway HTTP API ends an integration after 30 s; the function must
	// answer before that, cold start included.
	if got := deref(fn.Timeout); name == "WebhookFunction" && (got <= 0 || got >= 30) {
		t.Errorf("Timeout = %d, want 1 to 29 seconds (HTTP API integration limit is 30 s)", got)
	}
	if got := deref(fn.MemorySize); got < 128 {
		t.Errorf("MemorySize = %d, want it set, at least 128", got)
	}
	logging, _ := tmpl.Unmodelled[name]["LoggingConfig"].(map[string]any)
	if got := logging["LogFormat"]; got != "JSON" {
		t.Errorf("LoggingConfig.LogFormat = %v, want JSON", got)
	}
	// The role may write to this log group only (roleStatements' OwnLogs),
	// so the function must log there.
	logGroup := logGroupOf(name)
	if group, _ := logging["LogGroup"].(map[string]any); group["Ref"] != logGroup {
		t.Errorf("LoggingConfig.LogGroup = %v, want !Ref %s", logging["LogGroup"], logGroup)
	}
	if r := tmpl.Resources[logGroup]; r == nil || r.AWSCloudFormationType() != "AWS::Logs::LogGroup" {
		t.Errorf("no AWS::Logs::LogGroup %s", logGroup)
	}
	// Least privilege: the function's own role, declared in the template
	// (SAM's generated role would carry AWS managed policies wider than the
	// code needs; TestTemplateRolesAfterTransform). The logical id is the
	// one SAM gave its role, so the role ARN that the federated credential
	// names survives the change.
	role := name + "Role"
	if got, arg, _ := intrinsic(deref(fn.Role)); got != "Fn::GetAtt" || fmt.Sprint(arg) != role+".Arn" && fmt.Sprint(arg) != "["+role+" Arn]" {
		t.Errorf("Role = %v %v, want !GetAtt %s.Arn", got, arg, role)
	}
	if fn.Policies != nil {
		t.Errorf("Policies = %+v; with a Role of its own, SAM ignores them: write them in %s", fn.Policies, role)
	}
	r, err := tmpl.GetIAMRoleWithName(role)
	if err != nil {
		t.Fatalf("no AWS::IAM::Role %s: %v", role, err)
	}
	if len(r.ManagedPolicyArns) != 0 || r.PermissionsBoundary != nil || r.RoleName != nil || r.Path != nil {
		t.Errorf("%s: ManagedPolicyArns %q, PermissionsBoundary, RoleName or Path set; want inline policies only and a generated name", role, r.ManagedPolicyArns)
	}
	trust, _ := json.Marshal(r.AssumeRolePolicyDocument)
	if want := `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}}],"Version":"2012-10-17"}`; string(trust) != want {
		t.Errorf("%s trust policy = %s, want %s", role, trust, want)
	}
}

// logGroupOf names the log group of a function: WebhookFunction logs to
// WebhookLogGroup.
func logGroupOf(function string) string {
	return strings.TrimSuffix(function, "Function") + "LogGroup"
}

// roleStatements returns the statements of the one inline policy of a
// function's role, as goformation parsed them (intrinsics kept).
func roleStatements(t *testing.T, tmpl samTemplate, function string) []any {
	t.Helper()
	r, err := tmpl.GetIAMRoleWithName(function + "Role")
	if err != nil {
		t.Fatalf("%sRole: %v", function, err)
	}
	if len(r.Policies) != 1 {
		t.Fatalf("%sRole has %d inline policies, want 1", function, len(r.Policies))
	}
	doc, _ := r.Policies[0].PolicyDocument.(map[string]any)
	statements, _ := doc["Statement"].([]any)
	return statements
}

// checkLogStatement: the function's own log group, streams and events only.
func checkLogStatement(t *testing.T, raw any, function string) {
	t.Helper()
	st, _ := raw.(map[string]any)
	var got []string
	for _, a := range st["Action"].([]any) {
		got = append(got, fmt.Sprint(a))
	}
	slices.Sort(got)
	if st["Effect"] != "Allow" || !slices.Equal(got, []string{"logs:CreateLogStream", "logs:PutLogEvents"}) {
		t.Errorf("log statement = %v, want Allow logs:CreateLogStream, logs:PutLogEvents", st)
	}
	group := logGroupOf(function)
	if name, arg, _ := intrinsic(st["Resource"]); name != "Fn::GetAtt" || fmt.Sprint(arg) != group+".Arn" && fmt.Sprint(arg) != "["+group+" Arn]" {
		t.Errorf("log statement resource = %v %v, want !GetAtt %s.Arn", name, arg, group)
	}
}

// TestTemplateFederationPolicy: the execution role may call
// sts:GetWebIdentityToken only for the Entra token exchange audience of the
// deployment's cloud, only RS256, at most 300 s (pkg/identity's request),
// and nothing else; the mapping agrees with config.TokenExchangeAudiences.
func TestTemplateFederationPolicy(t *testing.T) {
	tmpl := loadTemplate(t)
	statements := roleStatements(t, tmpl, "WebhookFunction")
	if len(statements) != 9 {
		t.Fatalf("statements = %d, want 9 (federation token, delivery records, change records, change history, enqueue, schedules, pass the schedule role, own logs, tracing)", len(statements))
	}
	checkDeliveryStatement(t, statements[1])
	checkChangeStatements(t, statements[2], statements[3])
	checkQueueStatement(t, statements[4], "ChangeQueue", []string{"sqs:SendMessage"})
	checkScheduleStatement(t, statements[5], []string{"scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:UpdateSchedule"})
	checkPassScheduleRole(t, statements[6])
	checkLogStatement(t, statements[7], "WebhookFunction")
	checkTracingStatement(t, statements[8])
	args := checkFederationStatement(t, statements[0])

	mapping, _ := tmpl.Mappings["EntraTokenExchange"].(map[string]any)
	for cloud := range config.Clouds {
		entry, _ := mapping[cloud].(map[string]any)
		if got := entry["Audience"]; got != config.TokenExchangeAudiences[cloud] {
			t.Errorf("EntraTokenExchange.%s.Audience = %v, want %s", cloud, got, config.TokenExchangeAudiences[cloud])
		}
	}
	p := tmpl.Parameters["GraphCloud"]
	if len(p.AllowedValues) != len(mapping) {
		t.Errorf("EntraTokenExchange has %d clouds, GraphCloud allows %d", len(mapping), len(p.AllowedValues))
	}
	// The operator copies these outputs into the federated credentials.
	if name, arg, _ := intrinsic(tmpl.Outputs["FederatedCredentialAudience"].Value); name != "Fn::FindInMap" || fmt.Sprint(arg) != fmt.Sprint(args) {
		t.Errorf("Outputs.FederatedCredentialAudience = %v %v, want the policy's !FindInMap", name, arg)
	}
	for _, fn := range []string{"WebhookFunction", "WorkerFunction"} {
		out, role := fn+"RoleArn", fn+"Role"
		if name, arg, _ := intrinsic(tmpl.Outputs[out].Value); name != "Fn::GetAtt" || (fmt.Sprint(arg) != role+".Arn" && fmt.Sprint(arg) != "["+role+" Arn]") {
			t.Errorf("Outputs.%s = %v %v, want !GetAtt %s.Arn", out, name, arg, role)
		}
	}
}

// checkFederationStatement: sts:GetWebIdentityToken only for the Entra
// token exchange audience of GraphCloud, RS256, at most 300 s. It returns
// the audience's Fn::FindInMap arguments.
func checkFederationStatement(t *testing.T, raw any) []any {
	t.Helper()
	st, _ := raw.(map[string]any)
	if st["Effect"] != "Allow" || st["Action"] != "sts:GetWebIdentityToken" || st["Resource"] != "*" {
		t.Errorf("statement = %v, want Allow sts:GetWebIdentityToken on *", st)
	}
	cond, _ := st["Condition"].(map[string]any)
	forAll, _ := cond["ForAllValues:StringEquals"].(map[string]any)
	name, arg, ok := intrinsic(forAll["sts:IdentityTokenAudience"])
	args, _ := arg.([]any)
	if !ok || name != "Fn::FindInMap" || len(args) != 3 || args[0] != "EntraTokenExchange" || args[2] != "Audience" {
		t.Errorf("sts:IdentityTokenAudience = %v %v, want !FindInMap [EntraTokenExchange, !Ref GraphCloud, Audience]", name, arg)
	} else if key, isRef := ref(args[1]); !isRef || key != "GraphCloud" {
		t.Errorf("audience map key = %v, want !Ref GraphCloud", args[1])
	}
	null, _ := cond["Null"].(map[string]any)
	eq, _ := cond["StringEquals"].(map[string]any)
	le, _ := cond["NumericLessThanEquals"].(map[string]any)
	if null["sts:IdentityTokenAudience"] != "false" || eq["sts:SigningAlgorithm"] != "RS256" || fmt.Sprint(le["sts:DurationSeconds"]) != "300" || len(cond) != 4 {
		t.Errorf("conditions = %v, want the audience present, RS256 and at most 300 s, nothing else", cond)
	}
	return args
}

func TestTemplateRoute(t *testing.T) {
	tmpl := loadTemplate(t)
	apis := tmpl.GetAllServerlessHttpApiResources()
	if len(apis) != 1 {
		t.Fatalf("template has %d AWS::Serverless::HttpApi, want 1", len(apis))
	}
	var apiName string
	for name := range apis {
		apiName = name
	}
	fn, err := tmpl.GetServerlessFunctionWithName("WebhookFunction")
	if err != nil {
		t.Fatalf("WebhookFunction: %v", err)
	}
	var routes []string
	for name, ev := range fn.Events {
		if ev.Type != "HttpApi" {
			t.Errorf("event %s: Type = %q, want HttpApi", name, ev.Type)
			continue
		}
		if ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
			t.Errorf("event %s: no HttpApi event properties", name)
			continue
		}
		h := ev.Properties.HttpApiEvent
		if got, ok := ref(deref(h.ApiId)); !ok || got != apiName {
			t.Errorf("event %s: ApiId = %q, want !Ref %s", name, deref(h.ApiId), apiName)
		}
		if v := deref(h.PayloadFormatVersion); v != "" && v != "2.0" {
			t.Errorf("event %s: PayloadFormatVersion = %q, want 2.0 (the function decodes APIGatewayV2HTTPRequest)", name, v)
		}
		routes = append(routes, deref(h.Method)+" "+deref(h.Path))
	}
	if !slices.Equal(routes, []string{"POST /hooks/{source}"}) {
		t.Fatalf("routes = %q, want [POST /hooks/{source}]", routes)
	}
	// The one path parameter is the source, in the last segment, and every
	// source name fits in one path segment as it is.
	path := strings.TrimPrefix(routes[0], "POST ")
	params := regexp.MustCompile(`\{([^}]*)\}`).FindAllStringSubmatch(path, -1)
	if len(params) != 1 || params[0][1] != "source" || !strings.HasSuffix(path, "/{source}") {
		t.Errorf("path parameters = %q, want exactly {source} as the last segment", params)
	}
	for _, s := range sender.Names() {
		if !regexp.MustCompile(`^[a-z]+$`).MatchString(s) {
			t.Errorf("source %q does not fit a path segment as it is", s)
		}
	}
}

func TestTemplateEnvironment(t *testing.T) {
	tmpl := loadTemplate(t)
	fn, err := tmpl.GetServerlessFunctionWithName("WebhookFunction")
	if err != nil {
		t.Fatalf("WebhookFunction: %v", err)
	}
	if fn.Environment == nil {
		t.Fatal("WebhookFunction has no Environment")
	}
	env := fn.Environment.Variables
	known := config.Keys()
	for k := range env {
		switch {
		case slices.Contains(notDeployed, k):
			t.Errorf("environment sets %s, which must not be deployed", k)
		case slices.Contains(workerOnly, k):
			t.Errorf("environment sets %s, which only the worker reads", k)
		case !slices.Contains(known, k):
			t.Errorf("environment sets %s, which config does not read (config.Keys())", k)
		}
	}
	for _, k := range known {
		if _, ok := env[k]; !ok && !slices.Contains(notDeployed, k) && !slices.Contains(workerOnly, k) {
			t.Errorf("environment lacks %s (in config.Keys())", k)
		}
	}

	// Every Ref names a parameter; every parameter is used.
	used := map[string]bool{}
	used["ReservedConcurrency"] = true // ReservedConcurrentExecutions, checked below
	used["WorkerConcurrency"] = true   // the worker's ReservedConcurrentExecutions, TestTemplateWorker
	used["AlarmTopicArn"] = true       // the alarms' actions, TestTemplateAlarms
	for _, p := range []string{"EventsBusName", "EventsSources", "EventsDetailTypes"} {
		used[p] = true // the events rule and its condition, TestTemplateEvents
	}
	for k, v := range env {
		if name, ok := ref(v); ok {
			if k == config.EnvIdempotency {
				if name != "DeliveryTable" || tmpl.Resources[name] == nil || tmpl.Resources[name].AWSCloudFormationType() != "AWS::DynamoDB::Table" {
					t.Errorf("%s: !Ref %s, want the DeliveryTable resource", k, name)
				}
				continue
			}
			if k == config.EnvChangeTable {
				if name != "ChangeTable" || tmpl.Resources[name] == nil || tmpl.Resources[name].AWSCloudFormationType() != "AWS::DynamoDB::Table" {
					t.Errorf("%s: !Ref %s, want the ChangeTable resource", k, name)
				}
				continue
			}
			if k == config.EnvScheduleGroup {
				if name != "ScheduleGroup" || tmpl.Resources[name] == nil || tmpl.Resources[name].AWSCloudFormationType() != "AWS::Scheduler::ScheduleGroup" {
					t.Errorf("%s: !Ref %s, want the ScheduleGroup resource", k, name)
				}
				continue
			}
			if k == config.EnvQueueURL {
				// Ref of a queue is its URL.
				if name != "ChangeQueue" || tmpl.Resources[name] == nil || tmpl.Resources[name].AWSCloudFormationType() != "AWS::SQS::Queue" {
					t.Errorf("%s: !Ref %s, want the ChangeQueue resource", k, name)
				}
				continue
			}
			if _, exists := tmpl.Parameters[name]; !exists {
				t.Errorf("%s: !Ref %s, which is not a parameter", k, name)
			}
			used[name] = true
		} else if name, arg, isIntrinsic := intrinsic(v); isIntrinsic {
			if k == config.EnvQueueSecret {
				// The queue key: the generated secret, resolved at deploy.
				res := tmpl.Resources["QueueSecret"]
				if name != "Fn::Sub" || fmt.Sprint(arg) != "{{resolve:secretsmanager:${QueueSecret}}}" || res == nil || res.AWSCloudFormationType() != "AWS::SecretsManager::Secret" {
					t.Errorf("%s: %s %v, want !Sub {{resolve:secretsmanager:${QueueSecret}}} of the QueueSecret resource", k, name, arg)
				}
				continue
			}
			// The schedules' ARNs: their role, their dead-letter queue and
			// their target, the change queue.
			want, ok := scheduleARNs[k]
			if !ok || name != "Fn::GetAtt" || fmt.Sprint(arg) != "["+want+" Arn]" && fmt.Sprint(arg) != want+".Arn" {
				t.Errorf("%s: only literals, !Ref to a parameter and the schedules' !GetAtt ARNs are expected, got %s %v", k, name, arg)
			}
		}
	}
	for name := range tmpl.Parameters {
		if !used[name] {
			t.Errorf("parameter %s is not used by the environment", name)
		}
	}

	// Secrets: each one from its own NoEcho String parameter, never a
	// literal; and a NoEcho parameter feeds nothing but a secret.
	secretKeys := map[string]bool{}
	keysOfSecrets := []string{config.EnvClientSecret} // the lab credential
	keysOfSecrets = append(keysOfSecrets, config.WriteBackSecretKeys...)
	for _, s := range sender.All() {
		keysOfSecrets = append(keysOfSecrets, s.Secret)
	}
	for _, k := range keysOfSecrets {
		secretKeys[k] = true
		name, ok := ref(env[k])
		if !ok {
			t.Errorf("%s must be !Ref to a NoEcho parameter, not a literal", k)
			continue
		}
		p := tmpl.Parameters[name]
		if p.Type != "String" || !deref(p.NoEcho) {
			t.Errorf("%s: parameter %s is Type %q NoEcho %v, want String with NoEcho: true", k, name, p.Type, deref(p.NoEcho))
		}
		if p.Default != nil && p.Default != "" {
			t.Errorf("%s: parameter %s has a non-empty Default; a secret must never be in the template", k, name)
		}
		// The form without its braces: cfn-lint (E1051) refuses a dynamic
		// reference anywhere but in a resource property.
		if d := deref(p.Description); !strings.Contains(d, "resolve:secretsmanager:") || strings.Contains(d, "{{") {
			t.Errorf("%s: parameter %s Description should name the resolve:secretsmanager:... form, without braces", k, name)
		}
	}
	for k, v := range env {
		if name, ok := ref(v); ok && deref(tmpl.Parameters[name].NoEcho) && !secretKeys[k] {
			t.Errorf("%s takes NoEcho parameter %s but is not a secret", k, name)
		}
	}

	// The deployed values load: literals as written, parameters at their
	// default and at every allowed value. A value config refuses would
	// fail the cold start of every deployment.
	values := func(overrides map[string]string) func(string) string {
		return func(k string) string {
			v, ok := env[k]
			if !ok {
				return deployedByLambda[k]
			}
			if res, ok := scheduleARNs[k]; ok {
				return sampleARNs[res]
			}
			if name, isRef := ref(v); isRef {
				if o, ok := overrides[name]; ok {
					return o
				}
				if r, ok := deployedResources[name]; ok {
					return r
				}
				// The lab credential needs its secret; sam deploy asks
				// for the parameters without a default.
				if name == "EntraClientSecret" && overrides["GraphCredential"] == config.CredentialSecret {
					return labSecret
				}
				if sample, ok := requiredParameters[name]; ok {
					return sample
				}
				d, _ := tmpl.Parameters[name].Default.(string)
				return d
			}
			return v
		}
	}
	for name, p := range tmpl.Parameters {
		_, sampled := requiredParameters[name]
		if p.Default == nil && !sampled {
			t.Errorf("parameter %s has no default and no sample in requiredParameters", name)
		}
		if pattern := deref(p.AllowedPattern); sampled && !regexp.MustCompile(pattern).MatchString(requiredParameters[name]) {
			t.Errorf("sample of %s does not match its AllowedPattern", name)
		}
	}
	if _, err := config.Load(values(nil)); err != nil {
		t.Errorf("config.Load(template defaults) = %v", err)
	}
	for name, p := range tmpl.Parameters {
		for _, allowed := range p.AllowedValues {
			s, _ := allowed.(string)
			if _, err := config.Load(values(map[string]string{name: s})); err != nil {
				t.Errorf("config.Load(%s=%q) = %v", name, s, err)
			}
		}
	}
}

func TestTemplateOutputs(t *testing.T) {
	tmpl := loadTemplate(t)
	var apiName string
	for name := range tmpl.GetAllServerlessHttpApiResources() {
		apiName = name
	}
	sub := func(out string) string {
		name, arg, ok := intrinsic(tmpl.Outputs[out].Value)
		s, _ := arg.(string)
		if !ok || name != "Fn::Sub" {
			return ""
		}
		return s
	}
	getAtt := func(out string) string {
		name, arg, ok := intrinsic(tmpl.Outputs[out].Value)
		if !ok || name != "Fn::GetAtt" {
			return ""
		}
		switch a := arg.(type) {
		case string:
			return a
		case []any:
			parts := make([]string, 0, len(a))
			for _, p := range a {
				s, _ := p.(string)
				parts = append(parts, s)
			}
			return strings.Join(parts, ".")
		}
		return ""
	}
	wantURL := "https://${" + apiName + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}/hooks/"
	if got := sub("WebhookBaseUrl"); got != wantURL {
		t.Errorf("Outputs.WebhookBaseUrl = !Sub %q, want %q", got, wantURL)
	}
	// Each function's ARN, for the preflight invoke the docs loop over.
	for _, fn := range []string{"WebhookFunction", "WorkerFunction", "EventsFunction"} {
		if got := getAtt(fn + "Arn"); got != fn+".Arn" {
			t.Errorf("Outputs.%sArn = !GetAtt %q, want %s.Arn", fn, got, fn)
		}
	}
	// SAM names the role it creates <FunctionLogicalId>Role.
	if got := getAtt("WebhookFunctionRoleArn"); got != "WebhookFunctionRole.Arn" {
		t.Errorf("Outputs.WebhookFunctionRoleArn = !GetAtt %q, want WebhookFunctionRole.Arn", got)
	}
}

// checkDeliveryStatement: the de-duplication store may read and write its
// own table item by item, nothing more.
func checkDeliveryStatement(t *testing.T, raw any) {
	t.Helper()
	st, _ := raw.(map[string]any)
	actions, _ := st["Action"].([]any)
	var got []string
	for _, a := range actions {
		got = append(got, fmt.Sprint(a))
	}
	slices.Sort(got)
	want := []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
	if st["Effect"] != "Allow" || !slices.Equal(got, want) {
		t.Errorf("delivery statement = %v, want Allow %v", st, want)
	}
	name, arg, ok := intrinsic(st["Resource"])
	if !ok || name != "Fn::GetAtt" || !strings.HasPrefix(fmt.Sprint(arg), "[DeliveryTable Arn]") && fmt.Sprint(arg) != "DeliveryTable.Arn" {
		t.Errorf("delivery statement resource = %v %v, want !GetAtt DeliveryTable.Arn", name, arg)
	}
}

// checkChangeStatements: the change record may put and get ChangeTable's
// items one by one and query the table (a ticket's records) and its
// history index (record.IndexAssignment), nothing more.
func checkChangeStatements(t *testing.T, rawTable, rawIndex any) {
	t.Helper()
	st, _ := rawTable.(map[string]any)
	var got []string
	for _, a := range asList(st["Action"]) {
		got = append(got, fmt.Sprint(a))
	}
	slices.Sort(got)
	want := []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
	if st["Effect"] != "Allow" || !slices.Equal(got, want) {
		t.Errorf("change record statement = %v, want Allow %v", st, want)
	}
	if name, arg, ok := intrinsic(st["Resource"]); !ok || name != "Fn::GetAtt" || fmt.Sprint(arg) != "[ChangeTable Arn]" && fmt.Sprint(arg) != "ChangeTable.Arn" {
		t.Errorf("change record statement resource = %v %v, want !GetAtt ChangeTable.Arn", name, arg)
	}
	ix, _ := rawIndex.(map[string]any)
	wantIndex := "${ChangeTable.Arn}/index/" + record.IndexAssignment
	if name, arg, ok := intrinsic(ix["Resource"]); ix["Effect"] != "Allow" || fmt.Sprint(asList(ix["Action"])) != "[dynamodb:Query]" ||
		!ok || name != "Fn::Sub" || arg != wantIndex {
		t.Errorf("change history statement = %v (resource %v %v), want Allow dynamodb:Query on !Sub %s", ix, name, arg, wantIndex)
	}
}

// checkQueueStatement: exactly these SQS actions, on queue only.
func checkQueueStatement(t *testing.T, raw any, queue string, want []string) {
	t.Helper()
	st, _ := raw.(map[string]any)
	var got []string
	switch a := st["Action"].(type) {
	case string:
		got = []string{a}
	case []any:
		for _, x := range a {
			got = append(got, fmt.Sprint(x))
		}
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if st["Effect"] != "Allow" || !slices.Equal(got, want) {
		t.Errorf("queue statement = %v, want Allow %v", st, want)
	}
	name, arg, ok := intrinsic(st["Resource"])
	if !ok || name != "Fn::GetAtt" || fmt.Sprint(arg) != queue+".Arn" && fmt.Sprint(arg) != "["+queue+" Arn]" {
		t.Errorf("queue statement resource = %v %v, want !GetAtt %s.Arn", name, arg, queue)
	}
}

// checkWorkerConcurrency: the worker and the events function reserve
// WorkerConcurrency executions each, and none at all when it is 0 (an
// account too small to reserve any): WorkerConcurrency 0 must never reach
// ReservedConcurrentExecutions, where it would stop the function. The
// default reserves one, which bounds the function's writes.
func checkWorkerConcurrency(t *testing.T, tmpl samTemplate, fn string) {
	t.Helper()
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	want := `{"Fn::If":["HasWorkerConcurrency",{"Ref":"WorkerConcurrency"},{"Ref":"AWS::NoValue"}]}`
	if got := js(tmpl.Unmodelled[fn]["ReservedConcurrentExecutions"]); got != want {
		t.Errorf("%s.ReservedConcurrentExecutions = %s, want %s", fn, got, want)
	}
	if got := js(rawTemplate(t).Conditions["HasWorkerConcurrency"]); got != `{"Fn::Not":[{"Fn::Equals":[{"Ref":"WorkerConcurrency"},0]}]}` {
		t.Errorf("HasWorkerConcurrency = %s, want WorkerConcurrency other than 0", got)
	}
	p := tmpl.Parameters["WorkerConcurrency"]
	if p.MinValue == nil || *p.MinValue != 0 || fmt.Sprint(p.Default) != "1" {
		t.Errorf("WorkerConcurrency: MinValue %v, Default %v; want 0 (unreserved) and 1", p.MinValue, p.Default)
	}
}

// rawResource returns a resource of the template as YAML wrote it (long
// form intrinsics), for properties goformation does not model.
func rawResource(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Resources map[string]map[string]any }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Resources[name]
}

// TestTemplateWorker: the async path's resources. The worker consumes
// ChangeQueue with partial batch failures, at bounded concurrency, with
// least privilege (the token statement, the delivery records, polling its
// queue, sending to the dead-letter queue only; no enqueue, no sender
// secret), configured like the webhook for Graph plus the dead-letter
// queue's URL; the queue sends a message to its dead-letter queue after the
// worker's last attempt and hides it for six worker timeouts.
func TestTemplateWorker(t *testing.T) {
	tmpl := loadTemplate(t)
	fn, err := tmpl.GetServerlessFunctionWithName("WorkerFunction")
	if err != nil {
		t.Fatalf("WorkerFunction: %v", err)
	}
	checkWorkerConcurrency(t, tmpl, "WorkerFunction")

	// The event source mapping.
	props, _ := rawResource(t, "WorkerFunction")["Properties"].(map[string]any)
	evs, _ := props["Events"].(map[string]any)
	if len(evs) != 1 {
		t.Fatalf("worker events = %v, want one SQS event", evs)
	}
	for name, e := range evs {
		ev, _ := e.(map[string]any)
		p, _ := ev["Properties"].(map[string]any)
		q, _ := p["Queue"].(map[string]any)
		if at := fmt.Sprint(q["Fn::GetAtt"]); ev["Type"] != "SQS" || at != "[ChangeQueue Arn]" && at != "ChangeQueue.Arn" {
			t.Errorf("event %s = %v, want SQS on !GetAtt ChangeQueue.Arn", name, ev)
		}
		if fmt.Sprint(p["FunctionResponseTypes"]) != "[ReportBatchItemFailures]" {
			t.Errorf("event %s: FunctionResponseTypes = %v, want [ReportBatchItemFailures] (the worker reports batchItemFailures)", name, p["FunctionResponseTypes"])
		}
		if b, ok := p["BatchSize"].(float64); !ok || b < 1 || b > 10 {
			t.Errorf("event %s: BatchSize = %v, want 1 to 10", name, p["BatchSize"])
		}
	}

	// Least privilege: what the event source mapping needs on ChangeQueue
	// (the three actions Lambda documents for an SQS event source), the
	// dead-letter queue to send to, and nothing of the webhook's.
	statements := roleStatements(t, tmpl, "WorkerFunction")
	if len(statements) != 9 {
		t.Fatalf("statements = %d, want 9 (federation token, delivery records, change records, change history, polling, dead letters, cancel schedules, own logs, tracing)", len(statements))
	}
	checkFederationStatement(t, statements[0])
	checkDeliveryStatement(t, statements[1])
	checkChangeStatements(t, statements[2], statements[3])
	checkQueueStatement(t, statements[4], "ChangeQueue", []string{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"})
	checkQueueStatement(t, statements[5], "ChangeDeadLetterQueue", []string{"sqs:SendMessage"})
	checkScheduleStatement(t, statements[6], []string{"scheduler:DeleteSchedule"})
	checkLogStatement(t, statements[7], "WorkerFunction")
	checkTracingStatement(t, statements[8])

	// The environment: what the worker reads, valued as the webhook's.
	web, err := tmpl.GetServerlessFunctionWithName("WebhookFunction")
	if err != nil {
		t.Fatal(err)
	}
	env, webEnv := fn.Environment.Variables, web.Environment.Variables
	known := config.Keys()
	for k, v := range env {
		switch {
		case !slices.Contains(known, k):
			t.Errorf("worker environment sets %s, which config does not read", k)
		case slices.Contains(notDeployed, k):
			t.Errorf("worker environment sets %s, which must not be deployed", k)
		case strings.HasPrefix(k, "ENROLLHOOK_SECRET_"), k == config.EnvQueueURL, k == config.EnvAsyncSources:
			t.Errorf("worker environment sets %s: the worker authenticates nothing and enqueues nothing", k)
		case k == config.EnvDeadLetterURL:
			// Its own setting: the URL of the dead-letter queue (Ref of a
			// queue), which the webhook does not have.
			if name, ok := ref(v); !ok || name != "ChangeDeadLetterQueue" || tmpl.Resources[name] == nil || tmpl.Resources[name].AWSCloudFormationType() != "AWS::SQS::Queue" {
				t.Errorf("worker %s = %v, want !Ref ChangeDeadLetterQueue", k, v)
			}
		case fmt.Sprint(v) != fmt.Sprint(webEnv[k]):
			t.Errorf("worker %s = %v, webhook's = %v: the two must reach the same Graph, table and limit", k, v, webEnv[k])
		}
	}
	for _, k := range []string{config.EnvCredential, config.EnvClientID, config.EnvCloud, config.EnvGraphVersion, config.EnvIdempotency, config.EnvChangeTable, config.EnvChangeRetentionDays,
		config.EnvWriteLimit, config.EnvWriteWindow, config.EnvDeadlineMargin, config.EnvDeadLetterURL, config.EnvUpdateStrategy, config.EnvQueueSecret,
		// A queued chat command's user is checked against the allow-lists again.
		config.EnvSlackTeamID, config.EnvSlackAllowedUsers, config.EnvTeamsTenantID, config.EnvTeamsAllowedUsers} {
		if _, ok := env[k]; !ok {
			t.Errorf("worker environment lacks %s", k)
		}
	}
	// The webhook seals what it queues and schedules with the key the
	// worker opens them with (the same value, checked above).
	if _, ok := webEnv[config.EnvQueueSecret]; !ok {
		t.Errorf("webhook environment lacks %s", config.EnvQueueSecret)
	}
	get := func(k string) string {
		v, ok := env[k]
		if !ok {
			return deployedByLambda[k]
		}
		if res, ok := scheduleARNs[k]; ok {
			return sampleARNs[res]
		}
		if name, isRef := ref(v); isRef {
			if r, ok := deployedResources[name]; ok {
				return r
			}
			if sample, ok := requiredParameters[name]; ok {
				return sample
			}
			d, _ := tmpl.Parameters[name].Default.(string)
			return d
		}
		return v
	}
	if c, err := config.Load(get); err != nil || c.Delivery.Table == "" || c.ChangeRecord.Table != deployedResources["ChangeTable"] || c.Queue.DeadLetterURL != deployedResources["ChangeDeadLetterQueue"] ||
		!c.Schedule.Enabled() {
		t.Errorf("config.Load(worker defaults) = %v, table %q, change table %q, dead-letter queue %q", err, c.Delivery.Table, c.ChangeRecord.Table, c.Queue.DeadLetterURL)
	}

	// The queue and its dead-letter queue.
	q, err := tmpl.GetSQSQueueWithName("ChangeQueue")
	if err != nil {
		t.Fatalf("ChangeQueue: %v", err)
	}
	if vt := deref(q.VisibilityTimeout); vt < 6*deref(fn.Timeout) {
		t.Errorf("ChangeQueue VisibilityTimeout = %d, want at least 6 x the worker's Timeout %d", vt, deref(fn.Timeout))
	}
	rp, _ := q.RedrivePolicy.(map[string]any)
	if fmt.Sprint(rp["maxReceiveCount"]) != fmt.Sprint(worker.MaxReceive) {
		t.Errorf("maxReceiveCount = %v, want worker.MaxReceive (%d): the worker's last attempt reports the failure", rp["maxReceiveCount"], worker.MaxReceive)
	}
	if name, arg, _ := intrinsic(rp["deadLetterTargetArn"]); name != "Fn::GetAtt" || fmt.Sprint(arg) != "ChangeDeadLetterQueue.Arn" && fmt.Sprint(arg) != "[ChangeDeadLetterQueue Arn]" {
		t.Errorf("deadLetterTargetArn = %v %v, want !GetAtt ChangeDeadLetterQueue.Arn", name, arg)
	}
	for _, name := range []string{"ChangeQueue", "ChangeDeadLetterQueue"} {
		p, _ := rawResource(t, name)["Properties"].(map[string]any)
		if p["SqsManagedSseEnabled"] != true {
			t.Errorf("%s: SqsManagedSseEnabled = %v, want true (messages carry Slack response URLs)", name, p["SqsManagedSseEnabled"])
		}
	}
}

// TestTemplatePolicy: the guardrail policy reaches both functions as the
// same document, from one parameter that is empty (the built-in policy) by
// default and small enough for Lambda's 4 KB of environment.
func TestTemplatePolicy(t *testing.T) {
	tmpl := loadTemplate(t)
	p, ok := tmpl.Parameters["PolicyDocument"]
	if !ok {
		t.Fatal("no PolicyDocument parameter")
	}
	if p.Type != "String" || p.Default != "" || p.MaxLength == nil || *p.MaxLength > 2048 {
		t.Errorf("PolicyDocument = %+v, want a String defaulting to empty, MaxLength at most 2048", p)
	}
	for _, name := range []string{"WebhookFunction", "WorkerFunction"} {
		fn, err := tmpl.GetServerlessFunctionWithName(name)
		if err != nil {
			t.Fatal(err)
		}
		if ref, ok := ref(fn.Environment.Variables[config.EnvPolicyJSON]); !ok || ref != "PolicyDocument" {
			t.Errorf("%s: %s = %v, want !Ref PolicyDocument", name, config.EnvPolicyJSON, fn.Environment.Variables[config.EnvPolicyJSON])
		}
		if _, set := fn.Environment.Variables[config.EnvPolicy]; set {
			t.Errorf("%s sets %s: there is no file to point at", name, config.EnvPolicy)
		}
	}
}

// checkScheduleStatement: the Scheduler actions on the schedules of the
// stack's group only.
func checkScheduleStatement(t *testing.T, raw any, actions []string) {
	t.Helper()
	st, _ := raw.(map[string]any)
	var got []string
	switch a := st["Action"].(type) {
	case string:
		got = []string{a}
	case []any:
		for _, x := range a {
			got = append(got, fmt.Sprint(x))
		}
	}
	slices.Sort(got)
	name, arg, _ := intrinsic(st["Resource"])
	if st["Effect"] != "Allow" || !slices.Equal(got, actions) || name != "Fn::Sub" ||
		fmt.Sprint(arg) != "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${ScheduleGroup}/*" {
		t.Errorf("schedule statement = %v, want Allow %v on the schedules of ScheduleGroup", st, actions)
	}
}

// checkPassScheduleRole: iam:PassRole of ScheduleRole only, to the
// Scheduler only.
func checkPassScheduleRole(t *testing.T, raw any) {
	t.Helper()
	st, _ := raw.(map[string]any)
	name, arg, _ := intrinsic(st["Resource"])
	cond, _ := st["Condition"].(map[string]any)
	eq, _ := cond["StringEquals"].(map[string]any)
	if st["Effect"] != "Allow" || st["Action"] != "iam:PassRole" || name != "Fn::GetAtt" ||
		fmt.Sprint(arg) != "[ScheduleRole Arn]" && fmt.Sprint(arg) != "ScheduleRole.Arn" || eq["iam:PassedToService"] != "scheduler.amazonaws.com" {
		t.Errorf("pass-role statement = %v, want iam:PassRole of ScheduleRole to scheduler.amazonaws.com", st)
	}
}

// TestTemplateSchedules: the schedule group of the stack, the role its
// schedules assume (trusted by this account's Scheduler only; sending to
// the change queue and the schedules' dead-letter queue, nothing else),
// and that dead-letter queue's alarm.
func TestTemplateSchedules(t *testing.T) {
	tmpl := loadTemplate(t)
	if r := tmpl.Resources["ScheduleGroup"]; r == nil || r.AWSCloudFormationType() != "AWS::Scheduler::ScheduleGroup" {
		t.Fatalf("no AWS::Scheduler::ScheduleGroup ScheduleGroup")
	}
	r, err := tmpl.GetIAMRoleWithName("ScheduleRole")
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := r.AssumeRolePolicyDocument.(map[string]any)
	ts, _ := trust["Statement"].([]any)
	tst, _ := ts[0].(map[string]any)
	principal, _ := json.Marshal(tst["Principal"])
	cond, _ := tst["Condition"].(map[string]any)
	eq, _ := cond["StringEquals"].(map[string]any)
	arnEq, _ := cond["ArnEquals"].(map[string]any)
	_, source, _ := intrinsic(arnEq["aws:SourceArn"])
	if account, _ := ref(eq["aws:SourceAccount"]); len(ts) != 1 || tst["Action"] != "sts:AssumeRole" || string(principal) != `{"Service":"scheduler.amazonaws.com"}` || account != "AWS::AccountId" ||
		fmt.Sprint(source) != "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule-group/${ScheduleGroup}" {
		t.Errorf("ScheduleRole trust policy = %v, want the Scheduler of this account (aws:SourceAccount) and this stack's group (aws:SourceArn) only", trust)
	}
	if len(r.Policies) != 1 || len(r.ManagedPolicyArns) != 0 {
		t.Fatalf("ScheduleRole: %d inline policies, managed %v; want one inline policy", len(r.Policies), r.ManagedPolicyArns)
	}
	doc, _ := r.Policies[0].PolicyDocument.(map[string]any)
	statements, _ := doc["Statement"].([]any)
	st, _ := statements[0].(map[string]any)
	list, _ := st["Resource"].([]any)
	var res []string
	for _, v := range list {
		_, arg, _ := intrinsic(v)
		res = append(res, strings.Trim(strings.ReplaceAll(fmt.Sprint(arg), " ", "."), "[]"))
	}
	if len(statements) != 1 || st["Action"] != "sqs:SendMessage" || !slices.Equal(res, []string{"ChangeQueue.Arn", "ScheduleDeadLetterQueue.Arn"}) {
		t.Errorf("ScheduleRole statements = %v (resources %v), want sqs:SendMessage on ChangeQueue and ScheduleDeadLetterQueue only", statements, res)
	}
	a, err := tmpl.GetCloudWatchAlarmWithName("ScheduleDeadLetterAlarm")
	if err != nil {
		t.Fatal(err)
	}
	var dim string
	if len(a.Dimensions) == 1 {
		_, arg, _ := intrinsic(a.Dimensions[0].Value)
		dim = fmt.Sprint(arg)
	}
	if !strings.Contains(dim, "ScheduleDeadLetterQueue") || deref(a.MetricName) != "ApproximateNumberOfMessagesVisible" {
		t.Errorf("ScheduleDeadLetterAlarm watches %s of %q, want the schedules' dead-letter queue", deref(a.MetricName), dim)
	}
}
