package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/signature"
)

// Environment variables read by Load. Keys lists them all; the SAM template
// test checks the template against it.
const (
	EnvCredential      = "ENROLLHOOK_CREDENTIAL"
	EnvClientID        = "AZURE_CLIENT_ID"
	EnvCloud           = "ENROLLHOOK_GRAPH_CLOUD"
	EnvGraphVersion    = "ENROLLHOOK_GRAPH_VERSION"
	EnvGraphURL        = "ENROLLHOOK_GRAPH_URL"
	EnvMaxBody         = "ENROLLHOOK_MAX_BODY_BYTES"
	EnvTolerance       = "ENROLLHOOK_SIGNATURE_TOLERANCE"
	EnvDeadlineMargin  = "ENROLLHOOK_DEADLINE_MARGIN"
	EnvMaxRetries      = "ENROLLHOOK_GRAPH_MAX_RETRIES"
	EnvAddr            = "ENROLLHOOK_ADDR"
	EnvPolicy          = "ENROLLHOOK_POLICY"
	CredentialManagedI = "managed-identity"
)

// Keys returns every environment variable Load reads, sorted.
func Keys() []string {
	k := []string{EnvCredential, EnvClientID, EnvCloud, EnvGraphVersion, EnvGraphURL, EnvMaxBody,
		EnvTolerance, EnvDeadlineMargin, EnvMaxRetries, EnvAddr, EnvPolicy, EnvPolicyJSON}
	for _, s := range sender.All() {
		k = append(k, s.Secret)
	}
	k = append(k, deliveryKeys...)
	k = append(k, changeKeys...)
	k = append(k, scheduleKeys...)
	k = append(k, chatRequestKeys...)
	k = append(k, queueKeys...)
	k = append(k, strategyKeys...)
	k = append(k, identityKeys...)
	k = append(k, senderKeys...)
	k = append(k, writeBackKeys...)
	sort.Strings(k)
	return k
}

// SecretKey is the variable holding a source's webhook secret (the sender
// registry's), or "" for a name that is not a sender.
func SecretKey(source string) string {
	s, _ := sender.Lookup(source)
	return s.Secret
}

// Cloud is one Microsoft cloud: where Graph lives and which token scope and
// Entra authority belong to it. A token for one cloud's Graph is refused by
// another's, so the three always go together.
type Cloud struct {
	Name          string
	GraphRoot     string // without version
	Scope         string // app-only .default scope
	AuthorityHost string
}

// Clouds maps ENROLLHOOK_GRAPH_CLOUD values to clouds.
var Clouds = map[string]Cloud{
	"global":   {"global", "https://graph.microsoft.com", "https://graph.microsoft.com/.default", "https://login.microsoftonline.com/"},
	"usgov":    {"usgov", "https://graph.microsoft.us", "https://graph.microsoft.us/.default", "https://login.microsoftonline.us/"},
	"usgovdod": {"usgovdod", "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default", "https://login.microsoftonline.us/"},
	"china":    {"china", "https://microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default", "https://login.chinacloudapi.cn/"},
}

// Config is the validated configuration. It implements slog.LogValuer so a
// logged Config never shows a secret.
type Config struct {
	Credential   string // one of Credentials; managed-identity by default
	ClientID     string // the Entra app's client id; with managed-identity a user-assigned identity's (empty = system-assigned)
	Cloud        Cloud
	GraphVersion string // beta | v1.0
	// GraphBaseURL is the Graph root including the version segment, with no
	// trailing slash.
	GraphBaseURL string
	// GraphInsecureHTTP is true when GraphBaseURL is plain http to a loopback
	// host (the emulator); the bearer token may then travel without TLS.
	GraphInsecureHTTP bool
	// Secrets holds each configured source's webhook secret; a source
	// without one is disabled (fail closed).
	Secrets map[string]string
	// MaxBodyBytes caps request bodies (default 256 KiB).
	MaxBodyBytes int64
	// SignatureTolerance is the accepted clock skew of signed timestamps
	// (default signature.DefaultTolerance, 5 minutes).
	SignatureTolerance time.Duration
	// DeadlineMargin is kept free before the invoke deadline for answering
	// (default 1 second).
	DeadlineMargin time.Duration
	// MaxRetries bounds Graph retries on 429/503/504 (default 4).
	MaxRetries int
	// Addr is the local server's listen address (default 127.0.0.1:8080).
	Addr string
	// Identity holds the settings of the credential modes (identity.go).
	Identity Identity
	// Senders holds per-sender settings beyond the secret (senders.go).
	Senders Senders
	// Delivery holds de-duplication and write-limit settings (delivery.go).
	Delivery Delivery
	// ChangeRecord holds the change record settings (changes.go).
	ChangeRecord ChangeRecord
	// Schedule holds the EventBridge Scheduler settings (schedule.go).
	Schedule Schedule
	// ChatRequestTTL is how long a chat request waits for a second person
	// (chatrequests.go).
	ChatRequestTTL time.Duration
	// Queue holds the asynchronous apply settings (queue.go).
	Queue Queue
	// UpdateStrategy is how a change reaches Graph: a name of package
	// strategy (strategy.go).
	UpdateStrategy string
	// Policy is the guardrail policy document, if any (policy.go).
	Policy Policy
	// WriteBack says where outcomes are posted back to tickets
	// (writeback.go).
	WriteBack WriteBack
}

// Disabled lists the sources without a secret, sorted.
func (c Config) Disabled() []string {
	var out []string
	for _, s := range sender.Names() {
		if c.Secrets[s] == "" {
			out = append(out, s)
		}
	}
	return out
}

// redacted is how a secret is logged: "REDACTED" when set, else "unset".
func redacted(v string) string {
	if v == "" {
		return "unset"
	}
	return "REDACTED"
}

// LogValue implements slog.LogValuer: secrets appear as REDACTED.
func (c Config) LogValue() slog.Value {
	secrets := make([]slog.Attr, 0, len(sender.All()))
	for _, s := range sender.Names() {
		secrets = append(secrets, slog.String(s, redacted(c.Secrets[s])))
	}
	return slog.GroupValue(
		slog.String("credential", c.Credential),
		slog.Bool("userAssigned", c.ClientID != ""),
		slog.String("clientId", c.ClientID),
		slog.Any("identity", c.Identity),
		slog.String("cloud", c.Cloud.Name),
		slog.String("graphVersion", c.GraphVersion),
		slog.Bool("graphOverride", c.GraphInsecureHTTP || c.GraphBaseURL != c.Cloud.GraphRoot+"/"+c.GraphVersion),
		slog.Any("secrets", slog.GroupValue(secrets...)),
		slog.Int64("maxBodyBytes", c.MaxBodyBytes),
		slog.Duration("signatureTolerance", c.SignatureTolerance),
		slog.Duration("deadlineMargin", c.DeadlineMargin),
		slog.Int("maxRetries", c.MaxRetries),
		slog.Any("asyncSources", c.Queue.Async),
		slog.Bool("deadLetterQueue", c.Queue.DeadLetterURL != "" || c.Queue.DeadLetterLocal),
		slog.String("queueSecret", redacted(c.Queue.Secret)),
		slog.String("updateStrategy", c.UpdateStrategy),
		slog.String("policy", orDefault(c.Policy.Origin, "built-in")),
		slog.Any("writeBack", c.WriteBack.LogValue()),
	)
}

func (c Config) String() string { return c.LogValue().String() }

// Load reads and validates the environment through getenv. The error lists
// every problem found, one per line, and never quotes a secret.
func Load(getenv func(string) string) (Config, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }

	c := Config{
		Credential:   orDefault(get(EnvCredential), CredentialManagedI),
		ClientID:     get(EnvClientID),
		GraphVersion: orDefault(get(EnvGraphVersion), "beta"),
		Addr:         orDefault(get(EnvAddr), "127.0.0.1:8080"),
		Secrets:      map[string]string{},
	}
	// ENROLLHOOK_CREDENTIAL and its settings are checked by loadIdentity.
	cloudName := orDefault(get(EnvCloud), "global")
	cloud, ok := Clouds[cloudName]
	if !ok {
		bad("%s must be one of global, usgov, usgovdod, china", EnvCloud)
	}
	c.Cloud = cloud
	if c.GraphVersion != "beta" && c.GraphVersion != "v1.0" {
		bad("%s must be beta or v1.0", EnvGraphVersion)
	}
	c.GraphBaseURL = cloud.GraphRoot + "/" + c.GraphVersion
	if raw := get(EnvGraphURL); raw != "" {
		base, insecure, err := graphOverride(raw)
		if err != nil {
			bad("%s %v", EnvGraphURL, err)
		}
		c.GraphBaseURL, c.GraphInsecureHTTP = base, insecure
	}
	for _, s := range sender.All() {
		c.Secrets[s.Name] = strings.TrimSpace(getenv(s.Secret))
	}
	var err error
	if c.MaxBodyBytes, err = positiveInt(get(EnvMaxBody), 256<<10); err != nil || c.MaxBodyBytes > 6<<20 {
		bad("%s must be a byte count between 1 and 6291456 (Lambda's payload limit)", EnvMaxBody)
	}
	if c.SignatureTolerance, err = duration(get(EnvTolerance), signature.DefaultTolerance); err != nil || c.SignatureTolerance > time.Hour {
		bad("%s must be a duration such as 5m, at most 1h", EnvTolerance)
	}
	if c.DeadlineMargin, err = duration(get(EnvDeadlineMargin), time.Second); err != nil || c.DeadlineMargin > 10*time.Second {
		bad("%s must be a duration such as 1s, at most 10s", EnvDeadlineMargin)
	}
	c.MaxRetries = 4
	if v := get(EnvMaxRetries); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			bad("%s must be a whole number from 0 to 10", EnvMaxRetries)
		} else {
			c.MaxRetries = n
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("%s must be host:port", EnvAddr)
	}
	// The guardrail policy is read here and parsed by pkg/policy when the
	// function is built (policy.go).
	loadPolicy(get, &c, bad)
	loadDelivery(get, &c, bad)
	loadChangeRecord(get, &c, bad)
	loadQueue(get, &c, bad)
	loadSchedule(get, &c, bad)
	loadChatRequests(get, &c, bad)
	loadStrategy(get, &c, bad)
	loadIdentity(get, &c, bad)
	loadSenders(get, &c, bad)
	loadWriteBack(get, &c, bad)
	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

// Error lists every configuration problem found.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "configuration: " + strings.Join(e.Problems, "; ")
}

// ErrConfig is matched by errors.Is for any *Error.
var ErrConfig = errors.New("configuration")

func (e *Error) Is(target error) bool { return target == ErrConfig }

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func positiveInt(v string, d int64) (int64, error) {
	if v == "" {
		return d, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return d, errors.New("not a positive integer")
	}
	return n, nil
}

func duration(v string, d time.Duration) (time.Duration, error) {
	if v == "" {
		return d, nil
	}
	n, err := time.ParseDuration(v)
	if err != nil || n <= 0 {
		return d, errors.New("not a positive duration")
	}
	return n, nil
}

// graphOverride validates ENROLLHOOK_GRAPH_URL: https anywhere, or plain
// http to a loopback host only (the emulator). It must name the version
// segment and carry no credentials, query or fragment.
func graphOverride(raw string) (string, bool, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false, errors.New("must be an absolute URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", false, errors.New("must not carry credentials, a query or a fragment")
	}
	insecure := false
	switch u.Scheme {
	case "https":
	case "http":
		if !Loopback(u.Hostname()) {
			return "", false, errors.New("may use plain http only to a loopback host")
		}
		insecure = true
	default:
		return "", false, errors.New("must be https (or http to a loopback host)")
	}
	return strings.TrimRight(u.String(), "/"), insecure, nil
}

// Loopback reports whether host is localhost or a loopback IP.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
