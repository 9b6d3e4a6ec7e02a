package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// Docs are tests: every ```sh block of README.md and docs/*.md runs, as
// written, against a real `drover dev` (the built binary, on free ports,
// in a temp data dir), and a block that fails fails the test.
//
// A block that cannot run here says so on the line before its fence:
//
//	<!-- doctest: skip: another machine -->
//
// and a block whose point is an error answer (DEVICE_NOT_FOUND) says
//
//	<!-- doctest: fails -->
//
// so that it must fail. What the harness changes, and nothing else:
//   - the default ports 8081, 8080, 7700 and 9000 become the dev cluster's;
//   - the placeholders task-01m7… and vm-1 become a real (sleeping) task
//     and a real device;
//   - `drover` is the built binary, the CLI's configuration is in a temp
//     directory, and the blocks run in a temp working directory holding the
//     dev cluster's ./drover-data and a copy of docs/examples, as the root
//     of a clone does;
//   - curl answers of 400 and above fail the block (--fail-with-body), and
//     streams (curl -N, drover monitor) are cut after 3 s, which is success.

// docBlock is one shell block of a document.
type docBlock struct {
	file       string
	line       int
	text       string
	skip       string // why it cannot run here; "" runs it
	expectFail bool
}

var doctestMarker = regexp.MustCompile(`^<!--\s*doctest:\s*(skip|fails)\s*:?\s*(.*?)\s*-->$`)

// docBlocks reads the ```sh blocks of the file at path.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks  []docBlock
		cur     *docBlock
		lastTxt string // the last non-blank line outside a block
		n       int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
			lastTxt = "```" // a marker belongs to the next fence only, not to one after a block
		case cur != nil:
			cur.text += line + "\n"
		case strings.TrimSpace(line) == "```sh":
			cur = &docBlock{file: filepath.Base(path), line: n}
			if m := doctestMarker.FindStringSubmatch(lastTxt); m != nil {
				switch m[1] {
				case "skip":
					cur.skip = m[2]
					if cur.skip == "" {
						t.Errorf("%s:%d: a doctest skip needs a reason", path, n-1)
					}
				case "fails":
					cur.expectFail = true
				}
			}
		case strings.TrimSpace(line) != "":
			lastTxt = strings.TrimSpace(line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Errorf("%s: the block at line %d is not closed", path, cur.line)
	}
	return blocks
}

// docPreamble wraps curl and drover for the blocks (see the comment above).
const docPreamble = `set -eo pipefail
curl() {
	case " $* " in
	*" -N "*) local rc=0; command curl -sS --max-time 3 "$@" || rc=$?; [ $rc = 28 ] && return 0; return $rc ;;
	*) local rc=0; command curl -sS --fail-with-body "$@" || rc=$?; echo; return $rc ;;
	esac
}
drover() {
	if [ "$1" = monitor ]; then
		local rc=0; timeout 3 "$DROVER_BIN" "$@" || rc=$?; [ $rc = 124 ] && return 0; return $rc
	fi
	"$DROVER_BIN" "$@"
}
`

func TestDocsRunAsWritten(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var blocks []docBlock
	for _, f := range files {
		blocks = append(blocks, docBlocks(t, f)...)
	}
	if len(blocks) < 10 {
		t.Fatalf("found %d shell blocks in the docs: is the parser broken?", len(blocks))
	}

	ports := map[int]int{}
	for _, p := range []int{api.DefaultPort, api.DefaultAgentPort, api.DefaultKeeperPort, api.DefaultNetPulsePort} {
		ports[p] = freePort(t)
	}
	// Blocks run in work, where drover dev keeps its data in ./drover-data
	// as it does when started as the README says.
	work := t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "docs", "examples"), os.DirFS(filepath.Join(root, "docs", "examples"))); err != nil {
		t.Fatal(err)
	}
	start(t, "dev", "dev", "--data", filepath.Join(work, "drover-data"), "--labels", "disk=ssd",
		"--port", strconv.Itoa(ports[api.DefaultPort]), "--agent-port", strconv.Itoa(ports[api.DefaultAgentPort]),
		"--keeper-port", strconv.Itoa(ports[api.DefaultKeeperPort]), "--netpulse-port", strconv.Itoa(ports[api.DefaultNetPulsePort]))
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports[api.DefaultPort])
	c, err := client.New(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var device string
	eventually(t, 30*time.Second, "drover dev's workers to register", func() bool {
		ds, err := c.Devices.List(ctx, client.DeviceListOptions{})
		if err != nil || ds.Online < 2 {
			return false
		}
		device = ds.Devices[0].ID
		return true
	})
	// The tour's task-01m7…: long enough to be cancelled, then retried.
	sub, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "sleep", Payload: []byte(`{"seconds": 30}`)})
	if err != nil {
		t.Fatal(err)
	}

	// The CLI completes what only the server knows.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tasks", "get", ""}, sub.TaskID},
		{[]string{"devices", "ping", ""}, device},
		{[]string{"tasks", "list", "--status", ""}, "cancelled"},
	} {
		out, err := exec.Command(droverBin, append([]string{"--api-url", apiURL, "__complete"}, tc.args...)...).Output()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("completion of drover %v = %q, %v; want %s among the suggestions", tc.args, out, err, tc.want)
		}
	}

	portRe := regexp.MustCompile(`:(8081|8080|7700|9000)\b`)
	config := t.TempDir()
	for _, b := range blocks {
		name := fmt.Sprintf("%s:%d", b.file, b.line)
		t.Run(name, func(t *testing.T) {
			if b.skip != "" {
				t.Skip(b.skip)
			}
			script := portRe.ReplaceAllStringFunc(b.text, func(m string) string {
				p, _ := strconv.Atoi(m[1:])
				return ":" + strconv.Itoa(ports[p])
			})
			script = strings.NewReplacer("task-01m7…", sub.TaskID, "vm-1", device).Replace(script)
			cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(cctx, "bash", "-c", docPreamble+script)
			cmd.Dir = work
			cmd.Env = []string{"DROVER_BIN=" + droverBin, "DROVER_CONFIG_DIR=" + config}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "DROVER_") { // the reader's settings are not the docs'
					cmd.Env = append(cmd.Env, kv)
				}
			}
			out, err := cmd.CombinedOutput()
			switch {
			case err != nil && !b.expectFail:
				t.Errorf("%s, as written in the docs, failed: %v\n--- block:\n%s--- output:\n%s", name, err, b.text, out)
			case err == nil && b.expectFail:
				t.Errorf("%s is marked <!-- doctest: fails --> but succeeded\n--- output:\n%s", name, out)
			}
		})
	}
}
