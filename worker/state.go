package worker

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// savedState is what Config.StateFile keeps: enough to come back as the
// same worker after a restart.
type savedState struct {
	Server     string `json:"server"`
	WorkerID   string `json:"worker_id"`
	Credential string `json:"credential"`
}

// loadState resumes the saved registration, if it was with this server.
func (w *Worker) loadState() {
	if w.cfg.StateFile == "" {
		return
	}
	b, err := os.ReadFile(w.cfg.StateFile)
	if err != nil {
		if !os.IsNotExist(err) {
			w.log.Warn("cannot read worker state; registering afresh", "path", w.cfg.StateFile, "err", err)
		}
		return
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil || st.Server != w.cfg.Server {
		return
	}
	w.mu.Lock()
	w.sess = session{id: st.WorkerID, cred: st.Credential}
	w.mu.Unlock()
}

// saveState writes the registration atomically. CreateTemp makes the file
// readable by its owner only, as a file holding a credential must be.
func (w *Worker) saveState() {
	if w.cfg.StateFile == "" {
		return
	}
	s := w.session()
	b, _ := json.Marshal(savedState{Server: w.cfg.Server, WorkerID: s.id, Credential: s.cred})
	dir := filepath.Dir(w.cfg.StateFile)
	f, err := os.CreateTemp(dir, ".worker-state-*")
	if err == nil {
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), w.cfg.StateFile)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}
	if err != nil {
		w.log.Warn("cannot save worker state", "path", w.cfg.StateFile, "err", err)
	}
}
