package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/drover-run/drover/api"
)

func newWorkflowsCreateCommand(m *meta) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "create -f dag.yaml",
		Short: "Create a workflow from a YAML (or JSON) file",
		Long: `Create a workflow from a file ("-" reads standard input) holding the
fields of POST /api/v1/workflows, in YAML or JSON:

  name: nightly-report
  schedule: "30 2 * * *"        # optional cron; read in timezone (default UTC)
  timezone: Europe/Berlin
  steps:
    - name: extract
      task_type: shell
      payload: {command: "echo extracting ${DAY}"}
    - name: report
      task_type: echo
      payload: {message: done}
      depends_on: [extract]`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageErrorf("name the workflow file with -f")
			}
			req, err := readWorkflowFile(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			w, err := c.Workflows.Create(cmd.Context(), *req)
			if err != nil {
				return err
			}
			return m.show(func(out io.Writer) { writeWorkflow(m, out, w) })
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the workflow definition (YAML or JSON; - for standard input)")
	return cmd
}

// readWorkflowFile reads a definition in YAML (a superset of JSON) and
// decodes it strictly, so a misspelt field is an error, not ignored.
func readWorkflowFile(path string, stdin io.Reader) (*api.CreateWorkflowRequest, error) {
	var (
		raw []byte
		err error
	)
	if path == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var req api.CreateWorkflowRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &req, nil
}
