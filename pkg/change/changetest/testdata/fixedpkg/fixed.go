// Package fixedpkg is a product package for FixedTexts's test: its texts
// are the string literals and the struct tags below.
package fixedpkg

import (
	"fmt"
	"strings"
)

type approval struct {
	Count string `json:"sys_mod_count" validate:"max=128"`
}

var keys = []string{"configurationId", "assignmentId", "target"}

func reasons(n int) []string {
	return []string{
		"is required: who asked for the change (email, user_name or sys_id), so that they cannot approve it",
		"unknown property; allowed: " + strings.Join(keys, ", "),
		"must be at most " + "128" + " characters",
		fmt.Sprintf("must hold %d digits at most", n),
	}
}
