package config_test

// The documentation: README.md is the first page (what it is, the two
// commands, one request and its answer, where to go next, dependencies)
// and docs/ has one page per question. Every relative link resolves, to a
// file of the repository and, for a Markdown page, to one of its headings.

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the module root, seen from this package.
const repoRoot = "../.."

// docPages lists README.md and every Markdown page under docs/, relative to
// the root.
func docPages(t *testing.T) []string {
	t.Helper()
	pages := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			pages = append(pages, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("docs/: %v", err)
	}
	return pages
}

// docText reads a page relative to the root.
func docText(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, page))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docSection returns a page's section under heading (the whole line, e.g.
// "## Preflight"), up to the next heading of any level, with line breaks
// and runs of spaces as one space.
func docSection(t *testing.T, page, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut("\n"+docText(t, page), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no heading %q", page, heading)
	}
	if i := strings.Index(rest, "\n#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.Join(strings.Fields(rest), " ")
}

var (
	inlineLink  = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	definedLink = regexp.MustCompile(`(?m)^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	codeSpan    = regexp.MustCompile("`[^`\n]*`")
	scheme      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	headingLine = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	mdLinkText  = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// prose returns a page without its fenced code blocks and code spans,
// where a bracket is not a link.
func prose(text string) string {
	var out []string
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, codeSpan.ReplaceAllString(l, "code"))
		}
	}
	return strings.Join(out, "\n")
}

// links lists the link targets of a page.
func links(text string) []string {
	text = prose(text)
	var out []string
	for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	for _, m := range definedLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// anchors lists the anchors GitHub gives a page's headings: the text
// lower-cased, without punctuation, spaces as hyphens, a repeat suffixed
// -1, -2, ...
func anchors(text string) []string {
	var out []string
	seen := map[string]int{}
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		m := headingLine.FindStringSubmatch(l)
		if fenced || m == nil {
			continue
		}
		s := slugOf(m[1])
		if n := seen[s]; n > 0 {
			out = append(out, s+"-"+strconv.Itoa(n))
		} else {
			out = append(out, s)
		}
		seen[s]++
	}
	return out
}

func slugOf(heading string) string {
	heading = mdLinkText.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocsLinksResolve: every relative link of README.md and docs/ names a
// file of the repository (never one outside it), and a heading of the page
// when it has a fragment.
func TestDocsLinksResolve(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	pages := docPages(t)
	if len(pages) < 2 {
		t.Fatalf("pages = %q, want README.md and docs/", pages)
	}
	checked := 0
	for _, page := range pages {
		text := docText(t, page)
		for _, target := range links(text) {
			if scheme.MatchString(target) {
				continue // http(s), mailto: not a file of the repository
			}
			checked++
			path, frag, _ := strings.Cut(target, "#")
			if strings.HasPrefix(path, "/") {
				t.Errorf("%s: link %q is absolute; write it relative to the page", page, target)
				continue
			}
			file := filepath.Join(root, filepath.Dir(page), filepath.FromSlash(path))
			if path == "" {
				file = filepath.Join(root, page)
			}
			rel, err := filepath.Rel(root, file)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s: link %q points outside the repository", page, target)
				continue
			}
			info, err := os.Stat(file)
			if err != nil {
				t.Errorf("%s: link %q: no such file %s", page, target, filepath.ToSlash(rel))
				continue
			}
			if frag == "" || info.IsDir() || !strings.HasSuffix(file, ".md") {
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(anchors(string(b)), frag) {
				t.Errorf("%s: link %q: %s has no heading #%s", page, target, filepath.ToSlash(rel), frag)
			}
		}
	}
	if checked == 0 {
		t.Error("no relative link found: is the link pattern broken?")
	}
}

// TestDocsLinkCheckCatches: the checker's parts on known input.
func TestDocsLinkCheckCatches(t *testing.T) {
	text := "# Deploy with SAM\n## What each parameter is for\n## Lint\n## Lint\n" +
		"See [a](docs/x.md#y), [b](<../c.md>) and `[not](a-link.md)`.\n```\n[nor](this.md)\n```\n[def]: ./d.md \"title\"\n"
	if got, want := links(text), []string{"docs/x.md#y", "../c.md", "./d.md"}; !slices.Equal(got, want) {
		t.Errorf("links = %q, want %q", got, want)
	}
	if got, want := anchors(text), []string{"deploy-with-sam", "what-each-parameter-is-for", "lint", "lint-1"}; !slices.Equal(got, want) {
		t.Errorf("anchors = %q, want %q", got, want)
	}
	if got := slugOf("Connect to Entra without a secret (`aws-federation`)"); got != "connect-to-entra-without-a-secret-aws-federation" {
		t.Errorf("slugOf = %q", got)
	}
}

// TestReadmeIsTheFirstPage: README.md fits on a page and leads to every
// page of docs/.
func TestReadmeIsTheFirstPage(t *testing.T) {
	readme := docText(t, "README.md")
	if n := strings.Count(readme, "\n"); n > 250 {
		t.Errorf("README.md has %d lines, want at most 250: move the detail to docs/", n)
	}
	targets := links(readme)
	for _, page := range docPages(t) {
		if page == "README.md" {
			continue
		}
		if !slices.ContainsFunc(targets, func(l string) bool { p, _, _ := strings.Cut(l, "#"); return p == page }) {
			t.Errorf("README.md does not link %s", page)
		}
	}
	for _, want := range []string{"make run", "make test", "## Dependencies"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
}

// TestDeploymentParameters: the deployment page says what every stack
// parameter is for.
func TestDeploymentParameters(t *testing.T) {
	tmpl := loadTemplate(t)
	section := docSection(t, "docs/deployment.md", "## What each parameter is for")
	for name := range tmpl.Parameters {
		if !strings.Contains(section, "| `"+name+"` |") {
			t.Errorf("docs/deployment.md, What each parameter is for: no row for %s", name)
		}
	}
}

// TestNoTeamNotes: what a user reads (the pages, the Makefile, the
// template, the contract, CI's script) points to nothing outside the
// repository: not the team's working notes, not reference pages only the
// team has.
func TestNoTeamNotes(t *testing.T) {
	forbidden := []string{"DESIGN" + ".md", "STYLE" + ".md", "../" + "shared", "reference" + "/", "design " + "card", "the " + "issue asks"}
	files := append(docPages(t), "Makefile", "template.yaml", ".ci/run", "pkg/webhook/openapi.yaml", ".redocly.yaml", ".spectral.yaml")
	for _, f := range files {
		text := docText(t, f)
		for _, w := range forbidden {
			if strings.Contains(text, w) {
				t.Errorf("%s mentions %q", f, w)
			}
		}
	}
}
