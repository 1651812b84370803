package graphemu

import (
	"strings"
	"time"
)

// Graph versions served.
const (
	versionBeta = "beta"
	versionV1   = "v1.0"
)

// Graph type names, always stored and emitted with the leading '#'.
const (
	typeAssignment  = "#microsoft.graph.enrollmentConfigurationAssignment"
	typeGroup       = "#microsoft.graph.groupAssignmentTarget"
	typeExclusion   = "#microsoft.graph.exclusionGroupAssignmentTarget"
	typeAllLicensed = "#microsoft.graph.allLicensedUsersAssignmentTarget"
	typeAllDevices  = "#microsoft.graph.allDevicesAssignmentTarget"
	typeCMColl      = "#microsoft.graph.configurationManagerCollectionAssignmentTarget"
	// typeScopeTag is documented on the Intune pages but absent from the
	// public CSDL; Options.RejectScopeTagGroup picks
	// which of the two the emulator follows.
	typeScopeTag = "#microsoft.graph.scopeTagGroupAssignmentTarget"
)

// Property names.
const (
	propType       = "@odata.type"
	propID         = "id"
	propTarget     = "target"
	propSource     = "source"
	propSourceID   = "sourceId"
	propFilterID   = "deviceAndAppManagementAssignmentFilterId"
	propFilterType = "deviceAndAppManagementAssignmentFilterType"
	propGroupID    = "groupId"
	propCollection = "collectionId"
	propTargetType = "targetType"
	propEntraID    = "entraObjectId"
)

// targetOwn lists, per target subtype, the properties it adds to the base
// type. Every one of them is required: a group target without a group, or a
// collection target without a collection, names nothing.
var targetOwn = map[string][]string{
	typeGroup:       {propGroupID},
	typeExclusion:   {propGroupID}, // derives from groupAssignmentTarget
	typeAllLicensed: nil,
	typeAllDevices:  nil,
	typeCMColl:      {propCollection},
	typeScopeTag:    {propTargetType, propEntraID},
}

// Enum members (case sensitive, as Graph writes them).
const (
	filterNone    = "none"
	filterInclude = "include"
	filterExclude = "exclude"
	sourceDirect  = "direct"
	sourcePolicy  = "policySets"
)

var (
	filterTypes = []string{filterNone, filterInclude, filterExclude}
	sources     = []string{sourceDirect, sourcePolicy}
	scopeTypes  = []string{"user", "device"}
)

// config is one deviceEnrollmentConfiguration.
type config struct {
	id, odataType, displayName, description string
	priority, version                       int
	created, modified                       time.Time
	// props are the subtype properties both versions have; betaProps are
	// added (and override props of the same name) on beta only.
	props, betaProps map[string]any
	assignments      []*assignment
}

// assignment is one enrollmentConfigurationAssignment.
type assignment struct {
	id       string
	target   target
	source   string  // beta only
	sourceID *string // beta only; nil is JSON null
}

// target is the polymorphic deviceAndAppManagementAssignmentTarget,
// flattened; which fields are emitted depends on typ.
type target struct {
	typ        string
	filterID   *string // beta only; nil is JSON null
	filterType string  // beta only
	groupID, collectionID,
	targetType, entraObjectID string
}

func (c *config) render(version string) map[string]any {
	m := make(map[string]any, 8+len(c.props)+len(c.betaProps))
	for k, v := range c.props {
		m[k] = v
	}
	if version == versionBeta {
		for k, v := range c.betaProps {
			m[k] = v
		}
	}
	m[propType] = c.odataType
	m[propID] = c.id
	m["displayName"] = c.displayName
	m["description"] = c.description
	m["priority"] = c.priority
	m["version"] = c.version
	m["createdDateTime"] = c.created.UTC().Format(time.RFC3339Nano)
	m["lastModifiedDateTime"] = c.modified.UTC().Format(time.RFC3339Nano)
	return m
}

func (c *config) find(id string) (int, *assignment) {
	for i, a := range c.assignments {
		if a.id == id {
			return i, a
		}
	}
	return -1, nil
}

// regrouped reports whether in, sent with an id, targets a group other than
// the one that id is named after (see Server.RenameOnAssign).
func (c *config) regrouped(in assignmentInput) bool {
	t := in.target
	if t == nil || t.groupID == "" || (t.typ != typeGroup && t.typ != typeExclusion) {
		return false
	}
	return in.id != c.idPrefix()+"_"+t.groupID
}

// idPrefix is the configuration guid that starts every assignment id.
func (c *config) idPrefix() string {
	p, _, _ := strings.Cut(c.id, "_")
	return p
}

func (a *assignment) render(version string) map[string]any {
	m := map[string]any{
		propType:   typeAssignment,
		propID:     a.id,
		propTarget: a.target.render(version),
	}
	if version == versionBeta {
		m[propSource] = a.source
		m[propSourceID] = a.sourceID
	}
	return m
}

func (t target) render(version string) map[string]any {
	m := map[string]any{propType: t.typ}
	if version == versionBeta {
		m[propFilterID] = t.filterID
		m[propFilterType] = t.filterType
	}
	switch t.typ {
	case typeGroup, typeExclusion:
		m[propGroupID] = t.groupID
	case typeCMColl:
		m[propCollection] = t.collectionID
	case typeScopeTag:
		m[propTargetType] = t.targetType
		m[propEntraID] = t.entraObjectID
	}
	return m
}
