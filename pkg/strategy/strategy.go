// Package strategy names the update strategies: how an approved change
// reaches Graph (ENROLLHOOK_UPDATE_STRATEGY). config checks the setting
// against these names and the apply pipeline runs them (pkg/apply says what
// each one does); neither spells them again.
//
// It imports nothing. It is a leaf of its own because config may import
// only the standard library and leaves, and the pipeline must not import
// config: the one place both may read is a package that depends on
// nothing.
package strategy

// The strategies.
const (
	// Auto sends the item PATCH and, when Graph refuses the route, applies
	// the change with the assign action instead. The default.
	Auto = "auto"
	// Patch sends the documented item PATCH only.
	Patch = "patch"
	// Assign sends the complete set of the configuration's assignments with
	// the assign action.
	Assign = "assign"
)

// Default is the strategy when none is set.
const Default = Auto

// Names returns every strategy, the default first.
func Names() []string { return []string{Auto, Patch, Assign} }

// Valid reports whether name is a strategy.
func Valid(name string) bool { return name == Auto || name == Patch || name == Assign }
