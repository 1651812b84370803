package awsapitest

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
)

// Main runs the tests of a package whose tests use the server, then stops
// it: a package's TestMain is awsapitest.Main(m).
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Table returns the server with a fresh table made from in (CreateTable),
// or skips the test when there is no server.
func Table(t testing.TB, in dynamodb.CreateTableInput) (*Dynalite, string) {
	t.Helper()
	d := Start(t)
	if d == nil {
		t.Skip("no dynalite")
	}
	return d, d.CreateTable(t, in)
}

// ChangeTable is the table of template.yaml's ChangeTable, named name,
// which pkg/record and pkg/chatrequest share (their TestTemplateTable
// checks it against the template): partition key "pk" (S), sort key "sk"
// (S), and the global secondary index "byAssignment" on ("assignment",
// "sk"), projecting every attribute.
func ChangeTable(name string) dynamodb.CreateTableInput {
	str := types.ScalarAttributeTypeS
	return dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: str},
			{AttributeName: aws.String("sk"), AttributeType: str},
			{AttributeName: aws.String("assignment"), AttributeType: str},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String("byAssignment"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("assignment"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// Faulty passes calls to DynamoDB, but loses the answer to (Lose), or
// fails (Fail), the PutItem calls it is told to, counted from 1. A lost
// answer's call takes effect and is sent again, as awsapi's retry does
// after a reset connection; a failed call does not reach DynamoDB.
type Faulty struct {
	awsapi.DynamoDBAPI
	Lose, Fail map[int]bool

	mu   sync.Mutex
	puts int
}

// JSON implements awsapi.DynamoDBAPI.
func (f *Faulty) JSON(ctx context.Context, target string, in, out any) error {
	f.mu.Lock()
	var lose, fail bool
	if target == awsapi.DynamoDBTarget+"PutItem" {
		f.puts++
		lose, fail = f.Lose[f.puts], f.Fail[f.puts]
	}
	f.mu.Unlock()
	if fail {
		return errors.New("connection reset")
	}
	if lose {
		if err := f.DynamoDBAPI.JSON(ctx, target, in, nil); err != nil {
			return err
		}
	}
	return f.DynamoDBAPI.JSON(ctx, target, in, out)
}
