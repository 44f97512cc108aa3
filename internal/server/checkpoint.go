package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// DefaultAuditCheckpointInterval is how often the service signs a checkpoint of the audit
// chain when Config.AuditCheckpoint is set and Config.AuditCheckpointInterval is not.
const DefaultAuditCheckpointInterval = time.Minute

// Checkpoint commits the pending verification records, then signs the audit chain's head
// (seq, hash, time, first keyed record) with the current key set's checkpoint key. Written
// where the database does not live, it makes a later truncation, rollback or rewrite of the
// chain detectable by tokenguard audit verify --checkpoint.
func (s *Server) Checkpoint(ctx context.Context) (audit.Checkpoint, error) {
	if err := s.flushForRead(ctx); err != nil {
		return audit.Checkpoint{}, err
	}
	var (
		head      audit.Record
		keyedFrom int64
	)
	err := s.store.View(ctx, func(rd store.Reader) error {
		var err error
		head, keyedFrom, err = rd.AuditHead(ctx)
		return err
	})
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("reading the audit head: %w", err)
	}
	return s.keys.SignCheckpoint(head, keyedFrom, s.clock()), nil
}

// KeyAuditChain appends an ActionKeyChain record, chained under the audit key, when the audit
// chain is not empty and its head is unkeyed (a chain written before the audit key existed),
// so that from now on the chain ends keyed. It reports whether it appended one. Call it once
// at start-up, before serving.
func (s *Server) KeyAuditChain(ctx context.Context) (bool, error) {
	appended := false
	err := s.store.Update(ctx, func(tx store.Tx) error {
		head, _, err := tx.AuditHead(ctx)
		if err != nil || head.Seq == 0 || head.KeyID != "" {
			return err
		}
		_, err = tx.AppendAudit(ctx, audit.Event{Time: s.clock(), Actor: "system", Action: audit.ActionKeyChain, Outcome: "ok",
			Details: map[string]string{"key_id": s.keys.KeyID(), "unkeyed_records": strconv.FormatInt(head.Seq, 10)}})
		appended = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("keying the audit chain: %w", err)
	}
	return appended, nil
}

// checkpointWriter writes a signed checkpoint to out every interval and once more when it
// stops. Each checkpoint is one line (audit.Checkpoint.MarshalLine), written with one Write.
type checkpointWriter struct {
	srv      *Server
	out      io.Writer
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func newCheckpointWriter(srv *Server, out io.Writer, interval time.Duration) *checkpointWriter {
	w := &checkpointWriter{srv: srv, out: out, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *checkpointWriter) run() {
	defer close(w.done)
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = w.write(ctx) // logged by write; the next tick tries again
			cancel()
		case <-w.stop:
			return
		}
	}
}

// write signs and writes one checkpoint.
func (w *checkpointWriter) write(ctx context.Context) error {
	cp, err := w.srv.Checkpoint(ctx)
	if err == nil {
		_, err = w.out.Write(cp.MarshalLine())
	}
	if err != nil {
		w.srv.log.Error("audit checkpoint: not written", "error", err.Error())
		return fmt.Errorf("writing the audit checkpoint: %w", err)
	}
	w.srv.log.Info("audit checkpoint", "seq", cp.Seq, "hash", cp.Hash, "key_id", cp.KeyID)
	return nil
}

// close stops the periodic checkpoints and writes the last one.
func (w *checkpointWriter) close(ctx context.Context) error {
	var err error
	w.once.Do(func() {
		close(w.stop)
		<-w.done
		err = w.write(ctx)
	})
	return err
}

// auditCheckpoint serves GET /v1/audit/checkpoint: a checkpoint signed now, in the one-line
// form a checkpoint file holds.
func (s *Server) auditCheckpoint(w http.ResponseWriter, r *http.Request, _ *caller) error {
	cp, err := s.Checkpoint(r.Context())
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, cp.MarshalLine())
	return nil
}
