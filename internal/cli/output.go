package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
)

// outputFormat is the value of -o/--output.
type outputFormat string

const (
	formatTable outputFormat = "table"
	formatJSON  outputFormat = "json"
)

func (f *outputFormat) String() string { return string(*f) }
func (f *outputFormat) Type() string   { return "format" }

func (f *outputFormat) Set(s string) error {
	switch v := outputFormat(s); v {
	case formatTable, formatJSON:
		*f = v
		return nil
	}
	return fmt.Errorf("%q is not table or json", s)
}

// show prints the answer of the command's last API call. In table format it
// lets table write to a tabwriter; in json it prints the answer's data
// object as the server sent it.
func (m *meta) show(table func(w io.Writer)) error {
	if m.output == formatJSON {
		return m.printData()
	}
	tw := tabwriter.NewWriter(m.out, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// printData prints the data object of the latest API answer, indented.
// Indenting changes only white space: fields the SDK does not know, key
// order and number spelling all stay as the server wrote them, which a
// round trip through the SDK's structs would not keep.
func (m *meta) printData() error {
	if m.last == nil {
		return errors.New("no API answer to print")
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(m.last.body(), &env); err != nil {
		return fmt.Errorf("read the API answer: %w", err)
	}
	return m.printJSON(env.Data)
}

// printJSON prints raw JSON indented, with a final newline.
func (m *meta) printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("indent JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := m.out.Write(buf.Bytes())
	return err
}
