package servicenow

import "testing"

// TestRecordOf: the record the write-back goes to, from data.record, the
// approval's source_table and document_id, or the record's URL; nothing
// when the delivery does not say.
func TestRecordOf(t *testing.T) {
	const id = "c83c5e5347c12200e0ef563dbb9a7190"
	for _, tc := range []struct {
		name string
		a    Approval
		r    Record
		want string
	}{
		{"record", Approval{}, Record{Table: "change_request", SysID: id}, "change_request/" + id},
		{"approval's document", Approval{SourceTable: "sc_req_item", DocumentID: id}, Record{}, "sc_req_item/" + id},
		{"record's url", Approval{}, Record{URL: "https://contoso.service-now.com/change_request.do?sys_id=" + id}, "change_request/" + id},
		{"upper-case sys_id", Approval{}, Record{Table: "change_request", SysID: "C83C5E5347C12200E0EF563DBB9A7190"}, "change_request/" + id},
		{"no sys_id", Approval{SourceTable: "change_request"}, Record{Number: "CHG1"}, ""},
		{"no table", Approval{DocumentID: id}, Record{}, ""},
		{"table that is a path", Approval{}, Record{Table: "../sys_user", SysID: id}, ""},
		{"sys_id that is not one", Approval{}, Record{Table: "change_request", SysID: id + "/x"}, ""},
	} {
		if got := recordOf(&tc.a, &tc.r); got != tc.want {
			t.Errorf("%s: recordOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
