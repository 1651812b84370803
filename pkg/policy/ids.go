package policy

import "regexp"

var (
	guidRE       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	collectionRE = regexp.MustCompile(`^[A-Za-z0-9]{8}$`) // as change validates collectionId
	slackTeamRE  = regexp.MustCompile(`^[TE][A-Z0-9]{2,20}$`)
	slackUserRE  = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
	teamsUserRE  = regexp.MustCompile(`^29:[A-Za-z0-9_\-]{1,200}$`)
)

func isGUID(s string) bool       { return guidRE.MatchString(s) }
func isCollection(s string) bool { return collectionRE.MatchString(s) }
func isSlackTeam(s string) bool  { return slackTeamRE.MatchString(s) }
func isSlackUser(s string) bool  { return slackUserRE.MatchString(s) }
func isTeamsUser(s string) bool  { return isGUID(s) || teamsUserRE.MatchString(s) }
