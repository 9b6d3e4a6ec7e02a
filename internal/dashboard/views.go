package dashboard

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// asset is one embedded file, served under a name carrying its hash so
// that it can be cached for a year: a new build changes the name.
type asset struct {
	body        []byte
	contentType string
}

type views struct {
	pages  map[string]*template.Template
	assets map[string]asset  // by hashed name
	names  map[string]string // plain name -> hashed name
}

// The assets pages load, by plain name (their path under static/).
var assetFiles = []string{"app.css", "app.js", "vendor/htmx/htmx.min.js", "vendor/htmx-ext-sse/sse.min.js",
	"vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css"}

func newViews() (*views, error) {
	v := &views{pages: map[string]*template.Template{}, assets: map[string]asset{}, names: map[string]string{}}
	for _, name := range assetFiles {
		b, err := fs.ReadFile(staticFS, "static/"+name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(path.Base(name), ext) + "." + hex.EncodeToString(sum[:6]) + ext
		v.assets[hashed] = asset{body: b, contentType: mime.TypeByExtension(ext)}
		v.names[name] = "/ui/assets/" + hashed
	}
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			if p, ok := v.names[name]; ok {
				return p, nil
			}
			return "", fmt.Errorf("no asset %q", name)
		},
		"iso":      iso,
		"timetag":  timeTag,
		"state":    stateTag("s-"),
		"runstate": stateTag("r-"),
		"ago":      ago,
		"dur":      dur,
		"pct":      func(f float64) string { return fmt.Sprintf("%.1f%%", f) },
		"percent":  func(fraction float64) float64 { return fraction * 100 },
		"gb":       func(f float64) string { return fmt.Sprintf("%.1f GB", f) },
		"json":     jsonText,
		"pretty":   pretty,
		"query":    query,
		"add":      func(a, b int) int { return a + b },
		"sub":      func(a, b int) int { return a - b },
		"states":   func() []domain.TaskState { return domain.TaskStates },
		"levels":   func() []string { return []string{"debug", "info", "warning", "error"} },
		"periods":  func() []string { return []string{"1h", "24h", "7d"} },
		"join":     strings.Join,
		"list":     func(s ...string) []string { return s },
		"usedPct":  usedPct,
		"contains": func(list []string, s string) bool {
			return strings.Contains(","+strings.Join(list, ",")+",", ","+s+",")
		},
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"overview", "tasks", "task", "submit", "devices", "device", "logs", "keys", "login", "error",
		"queues", "workflows", "workflow", "run", "pools", "pool"} {
		t, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, err
		}
		v.pages[name] = t
	}
	return v, nil
}

// timeTag is t as a <time> element (a dash when zero), built here rather
// than by a template: lists show one per row, and a template's actions cost
// a reflective call each. Its text is iso's, which holds only digits and
// "-:TZ", so it needs no escaping.
func timeTag(t time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	s := iso(t)
	return template.HTML(`<time datetime="` + s + `">` + s + `</time>`)
}

// stateTag makes the func of a state badge whose class is prefix+state;
// the state is escaped.
func stateTag(prefix string) func(s any) template.HTML {
	return func(s any) template.HTML {
		e := html.EscapeString(fmt.Sprint(s))
		return template.HTML(`<span class="state ` + prefix + e + `">` + e + `</span>`)
	}
}

// iso is t in UTC, RFC 3339; the browser shows it in its own zone.
func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return dur(time.Since(t).Round(time.Second)) + " ago"
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func usedPct(used, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return math.Round(1000*used/total) / 10
}

// jsonText is v as JSON text; html/template escapes it for its context.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// pretty indents a JSON document, or returns it as it is when it is not one.
func pretty(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

// query is the current query with key set to value ("" removes it).
func query(q url.Values, kv ...any) string {
	out := url.Values{}
	for k, vs := range q {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		val := fmt.Sprint(kv[i+1])
		if val == "" || val == "0" && k == "offset" {
			out.Del(k)
		} else {
			out.Set(k, val)
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return "?" + out.Encode()
}

// pageData is what every page template gets.
type pageData struct {
	V       *viewer
	Nav     string // the active nav entry
	Title   string
	Version string
	Q       url.Values
	Flash   string
	Has     sections
	// Stream is the page's live event stream (sse-connect), or "".
	Stream string
	Data   any
}

// sections are the optional parts of the dashboard this server has.
type sections struct {
	Queues, Workflows, Pools bool
}

func (d *Dashboard) sections() sections {
	return sections{Queues: d.opts.Queues != nil, Workflows: d.opts.Workflows != nil, Pools: d.opts.Pools != nil}
}

// streams are the live topics of each page.
var streams = map[string]string{
	"overview": "/ui/live?topics=tasks,devices", "tasks": "/ui/live?topics=tasks", "devices": "/ui/live?topics=devices",
	"device": "/ui/live?topics=devices", "logs": "/ui/live?topics=logs", "queues": "/ui/live?topics=queues",
	"workflows": "/ui/live?topics=runs", "workflow": "/ui/live?topics=runs", "run": "/ui/live?topics=runs",
	"pools": "/ui/live?topics=pools", "pool": "/ui/live?topics=pools",
}

// streamer is page data with a stream of its own (a task's page).
type streamer interface{ stream() string }

// render writes page name; with HX-Target "live" (an htmx refresh of the
// page's live region) only that region.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, name string, v *viewer, data any) error {
	return d.renderStatus(w, r, http.StatusOK, name, v, data)
}

// renderStatus is render with another status (a form sent back with its error).
func (d *Dashboard) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, v *viewer, data any) error {
	t, ok := d.views.pages[name]
	if !ok {
		return fmt.Errorf("dashboard: no page %q", name)
	}
	pd := pageData{V: v, Nav: name, Version: d.opts.Version, Q: r.URL.Query(), Has: d.sections(), Data: data}
	// A message rides in the redirect after an action, signed: a link
	// from elsewhere cannot put words on the page.
	if f := pd.Q.Get("flash"); f != "" && hmac.Equal([]byte(pd.Q.Get("fs")), []byte(d.sessions.sign("flash:"+f))) {
		pd.Flash = f
	}
	pd.Q.Del("fs")
	if d.opts.Bus != nil {
		pd.Stream = streams[name]
		if s, ok := data.(streamer); ok {
			pd.Stream = s.stream()
		}
		if pd.Stream != "" {
			pd.Stream += "&from=" + strconv.FormatInt(v.From, 10)
		}
	}
	block := "layout"
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == "live" && t.Lookup("livebody") != nil {
		// The live region's content: the region itself stays, so a
		// refresh queued behind one in flight (htmx's default) still
		// has its element when it runs.
		block = "livebody"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, pd); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "HX-Request, HX-Target, Cookie")
	securityHeaders(h)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// securityHeaders: no inline script may run, nothing loads from elsewhere,
// and no other site may frame the dashboard.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

func (d *Dashboard) asset(w http.ResponseWriter, r *http.Request) error {
	a, ok := d.views.assets[r.PathValue("file")]
	if !ok {
		return domain.Errorf(domain.CodeNotFound, "no asset %q", r.PathValue("file"))
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(a.body)
	return err
}

// renderError is the dashboard's httpapi.ErrorFunc: an HTML page (or, for
// an htmx request, a fragment) with the status of the error's code.
func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, err error) {
	de, ok := err.(*domain.Error)
	if !ok {
		d.log.Error("dashboard request failed", "path", r.URL.Path, "err", err)
		de = domain.Errorf(domain.CodeInternal, "something went wrong on the server; its log says what")
	}
	status := envelope.Status(de.Code)
	if status == http.StatusUnauthorized && r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", "/ui/login")
	}
	t := d.views.pages["error"]
	var buf bytes.Buffer
	v := &viewer{Auth: d.opts.Auth}
	data := pageData{V: v, Nav: "error", Title: http.StatusText(status), Version: d.opts.Version, Has: d.sections(),
		Data: errorData{Status: status, Code: string(de.Code), Message: de.Message}}
	block := "layout"
	if r.Header.Get("HX-Request") == "true" {
		block = "main"
	}
	if t.ExecuteTemplate(&buf, block, data) != nil {
		http.Error(w, de.Message, status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	securityHeaders(h)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status        int
	Code, Message string
}
