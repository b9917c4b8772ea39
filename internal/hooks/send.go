package hooks

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/hooks/internal/store"
	"github.com/keepalive/keepalive/internal/lnurl"
)

// Backoff is the wait after each failed attempt: the first attempt is
// immediate, then these, about 24 hours in all; after the last the
// delivery is failed.
var Backoff = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour, 7 * time.Hour,
}

// perWebhookPerRound bounds how long one slow endpoint holds a worker.
const perWebhookPerRound = 10

// Run detects and sends every poll interval, and at once when a credit
// arrives, until ctx is done. credited is funding's Subscribe channel (nil
// for none): credits are enqueued from it on every replica, while
// detection and sending run on the one holding the "webhooks" lease.
func (s *Service) Run(ctx context.Context, credited <-chan funding.Invoice) {
	if credited != nil {
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case inv, ok := <-credited:
					if !ok {
						return
					}
					if err := s.Credited(ctx, inv); err != nil && ctx.Err() == nil {
						s.log.Warn("webhooks: credit", "payment_hash", inv.PaymentHash, "err", err)
					}
				}
			}
		}()
	}
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		_, err := s.db.WithLease(ctx, "webhooks", func(ctx context.Context) error {
			derr := s.Detect(ctx)
			_, serr := s.SendDue(ctx)
			return errors.Join(derr, serr)
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("webhooks: round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// SendDue makes one attempt at every message due now, in parallel across
// webhooks and in order within one, and returns how many were delivered.
// The caller holds the "webhooks" lease (Run does), so no message is sent
// twice at once.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	rows, err := store.DueBy(ctx, s.db, string(Pending), s.clock(), 200)
	if err != nil {
		return 0, fmt.Errorf("hooks: %w", err)
	}
	groups := map[int64][]store.Due{}
	var order []int64
	for _, r := range rows {
		if _, ok := groups[r.WebhookID]; !ok {
			order = append(order, r.WebhookID)
		}
		if len(groups[r.WebhookID]) < perWebhookPerRound {
			groups[r.WebhookID] = append(groups[r.WebhookID], r)
		}
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		delivered int
		errs      []error
		sem       = make(chan struct{}, s.workers)
	)
	for _, id := range order {
		g := groups[id]
		slices.SortFunc(g, func(a, b store.Due) int { return cmp.Compare(a.ID, b.ID) })
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, d := range g {
				if ctx.Err() != nil {
					return
				}
				ok, err := s.attempt(ctx, d)
				mu.Lock()
				if ok {
					delivered++
				}
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return delivered, errors.Join(errs...)
}

// attempt POSTs one message and records the attempt. It reports whether
// the message was delivered; the error is about recording, not sending.
func (s *Service) attempt(ctx context.Context, d store.Due) (bool, error) {
	at := s.clock()
	body := []byte(d.Payload)
	sig, err := Sign(d.Secret, d.MsgID, at.Unix(), body)
	if err != nil {
		return false, fmt.Errorf("hooks: sign %s: %w", d.MsgID, err)
	}
	rctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	status, failure := 0, ""
	start := time.Now()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		failure = failBadAddress
	} else {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Keepalive-Webhooks/1")
		req.Header.Set("webhook-id", d.MsgID)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		res, err := s.client.Do(req)
		if err != nil {
			failure = classify(err, rctx)
		} else {
			io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
			res.Body.Close()
			status = res.StatusCode
			if status < 200 || status > 299 {
				failure = failStatus(status)
			}
		}
	}
	elapsed := time.Since(start).Milliseconds()
	if ctx.Err() != nil && failure != "" {
		return false, nil // shutting down: not the endpoint's fault, try again later
	}
	n := d.Attempts + 1
	out := store.Outcome{Attempts: n, LastStatus: status, LastError: failure}
	switch {
	case failure == "":
		out.State, out.DeliveredAt = string(Delivered), &at
	case n > len(Backoff):
		out.State = string(Failed)
	default:
		next := at.Add(Backoff[n-1])
		out.NextAttemptAt = &next
	}
	// Recorded even if ctx ends now: the attempt happened.
	rec, cancelRec := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelRec()
	err = s.db.Tx(rec, func(tx db.Tx) error {
		a := store.Attempt{DeliveryID: d.ID, At: at, StatusCode: status, Error: failure, DurationMs: elapsed}
		return store.RecordAttempt(rec, tx, a, string(Pending), d.Attempts, out)
	})
	if err != nil {
		return false, fmt.Errorf("hooks: %s: %w", d.MsgID, err)
	}
	if failure != "" {
		s.log.Info("webhook attempt failed", "msg_id", d.MsgID, "webhook", d.WebhookID, "attempt", n, "error", failure)
	}
	return failure == "", nil
}

// What an owner is told about a failed attempt: a class, never the
// error's text, which named the site's resolver and its own address and
// ports, and told what internal names resolve to. A refused connection,
// a reset and a hang-up read alike, so the list cannot probe ports.
var (
	failTimeout    = fmt.Sprintf("Timed out: no answer within %s.", RequestTimeout)
	failConnect    = "Could not connect."
	failTLS        = "TLS error: the certificate or the handshake was not accepted."
	failNotPublic  = "Refused: the address is not public."
	failBadAddress = "The address cannot be requested."
)

func failStatus(status int) string { return fmt.Sprintf("HTTP status %d.", status) }

// classify turns a client error into one of the reasons above.
func classify(err error, rctx context.Context) string {
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var header tls.RecordHeaderError
	switch {
	case errors.Is(rctx.Err(), context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return failTimeout
	case errors.Is(err, lnurl.ErrNonPublicAddress):
		return failNotPublic
	case errors.As(err, &certErr), errors.As(err, &alert), errors.As(err, &header), isTLSError(err):
		return failTLS
	}
	return failConnect
}

// isTLSError catches the handshake failures crypto/tls reports as plain
// errors ("tls: ...").
func isTLSError(err error) bool {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return strings.HasPrefix(err.Error(), "tls: ")
}

// Sign returns the webhook-signature header value for a message, as
// Standard Webhooks defines it: "v1," and the base64 HMAC-SHA256, keyed
// with the secret's base64-decoded bytes, of "<id>.<timestamp>.<body>".
func Sign(secret, msgID string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return "", errors.New("hooks: the secret is not base64")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// ErrSignature is returned by Verify for a message the secret did not sign
// or whose timestamp is too far from now.
var ErrSignature = errors.New("hooks: signature does not verify")

// Verify checks a received message as a host would: one of the
// space-separated v1 signatures must match, and the timestamp must be
// within tolerance of now (replays). It is here for hosts written in Go and
// for end-to-end tests.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrSignature
	}
	want, err := Sign(secret, h.Get("webhook-id"), ts, body)
	if err != nil {
		return err
	}
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrSignature
}
