package awsapitest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
)

// Environment variables of the harness.
const (
	EnvDynalite        = "ENROLLHOOK_DYNALITE"
	EnvRequireDynalite = "ENROLLHOOK_REQUIRE_DYNALITE"
)

// Dynalite is a running dynalite server.
type Dynalite struct {
	// SDK is the AWS SDK's client of the server, for what the stores do not
	// do themselves (creating tables, reading raw items).
	SDK *dynamodb.Client
}

var (
	once    sync.Once
	server  *Dynalite
	startEr error
	cmdMu   sync.Mutex
	cmd     *exec.Cmd
	// cmdExited is closed once cmd has exited (its Wait returned).
	cmdExited chan struct{}
)

// Start returns the server of this test binary, starting it on first use;
// nil (after a log line) when ENROLLHOOK_DYNALITE is not set and
// ENROLLHOOK_REQUIRE_DYNALITE is not either.
func Start(t testing.TB) *Dynalite {
	t.Helper()
	cli := os.Getenv(EnvDynalite)
	if cli == "" {
		if os.Getenv(EnvRequireDynalite) != "" {
			t.Fatalf("%s is not set but %s is: run `make test`", EnvDynalite, EnvRequireDynalite)
		}
		t.Logf("%s not set: the DynamoDB store is not tested here; `make test` runs it", EnvDynalite)
		return nil
	}
	once.Do(func() { server, startEr = start(cli) })
	if startEr != nil {
		t.Fatalf("start dynalite: %v", startEr)
	}
	return server
}

// start runs dynalite on a free loopback port. The port is free when
// chosen and taken by node a moment later: if something else took it in
// between, node exits, and start tries another port.
func start(cli string) (*Dynalite, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		d, err := startOnce(cli)
		if err == nil {
			return d, nil
		}
		last = err
	}
	return nil, last
}

func startOnce(cli string) (*Dynalite, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	c := exec.Command("node", cli, "--host", "127.0.0.1", "--port", port, "--createTableMs", "0", "--deleteTableMs", "0")
	if err := c.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = c.Wait(); close(exited) }()
	d := &Dynalite{SDK: dynamodb.New(dynamodb.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String("http://127.0.0.1:" + port),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})}
	// Up when it answers a DynamoDB call and node is still running: a
	// server of someone else's on the port would answer while node,
	// refused the port, exits.
	for i := 0; i < 200; i++ {
		select {
		case <-exited:
			return nil, fmt.Errorf("dynalite exited before it listened on 127.0.0.1:%s (the port was taken?)", port)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.SDK.ListTables(ctx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			select {
			case <-exited:
				return nil, fmt.Errorf("dynalite exited while another server answered on 127.0.0.1:%s", port)
			case <-time.After(20 * time.Millisecond):
			}
			cmdMu.Lock()
			cmd, cmdExited = c, exited
			cmdMu.Unlock()
			return d, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = c.Process.Kill()
	<-exited
	return nil, fmt.Errorf("dynalite did not listen on 127.0.0.1:%s", port)
}

// Stop ends the server, if one was started. TestMain calls it after m.Run.
func Stop() {
	cmdMu.Lock()
	defer cmdMu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-cmdExited
		cmd, cmdExited = nil, nil
	}
}

// Client is a store's client of the server: an *awsapi.Client of
// "dynamodb", signing with the SDK client's local credentials.
func (d *Dynalite) Client(t testing.TB) *awsapi.Client {
	t.Helper()
	o := d.SDK.Options()
	c, err := awsapi.New(aws.Config{Region: o.Region, BaseEndpoint: o.BaseEndpoint, Credentials: o.Credentials}, "dynamodb")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tables numbers the tables of this process: the server lives as long as
// the test binary, so a second run (go test -count=2) must not reuse a name.
var tables atomic.Int64

// CreateTable creates the table in (its TableName made unique and safe:
// letters, digits, '-', '_', '.', at most 200 characters), waits until it
// is active and returns its name.
func (d *Dynalite) CreateTable(t testing.TB, in dynamodb.CreateTableInput) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", aws.ToString(in.TableName), tables.Add(1)) // the tail survives the cut below
	safe := []byte{}
	for _, r := range []byte(name) {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			safe = append(safe, r)
		}
	}
	table := string(safe)
	if len(table) > 200 {
		table = table[len(table)-200:]
	}
	in.TableName = aws.String(table)
	if in.BillingMode == "" {
		in.BillingMode = types.BillingModePayPerRequest
	}
	ctx := context.Background()
	if _, err := d.SDK.CreateTable(ctx, &in); err != nil {
		t.Fatalf("create table %s: %v", table, err)
	}
	for i := 0; i < 100; i++ {
		out, err := d.SDK.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err == nil && out.Table.TableStatus == types.TableStatusActive {
			return table
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("table %s never became active", table)
	return ""
}
