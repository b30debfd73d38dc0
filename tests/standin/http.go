package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// hubState is the start-up phase that /health reports.
type hubState struct {
	mu    sync.Mutex
	phase string
	ready bool
}

func (s *hubState) setPhase(phase string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = phase
}

func (s *hubState) setReady() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = "ready"
	s.ready = true
}

func (s *hubState) get() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase, s.ready
}

type signupRequest struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// newHandler serves GET / and GET /health (the same answer: 503 until the
// schema is ready, as the real hub serves no page before then) and POST
// /api/signup.
func newHandler(cfg config, state *hubState, logf func(string, ...any)) http.Handler {
	mux := http.NewServeMux()
	health := func(w http.ResponseWriter, r *http.Request) {
		phase, ready := state.get()
		if !ready {
			http.Error(w, "starting: "+phase, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}
	mux.HandleFunc("GET /health", health)
	mux.HandleFunc("GET /{$}", health)
	mux.HandleFunc("POST /api/signup", func(w http.ResponseWriter, r *http.Request) {
		if _, ready := state.get(); !ready {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the database schema is not ready yet"})
			return
		}
		var request signupRequest
		decoder := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		if err := decoder.Decode(&request); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body: " + err.Error()})
			return
		}
		request.Email = strings.TrimSpace(request.Email)
		if !strings.Contains(request.Email, "@") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("invalid email %q: expected an address with '@'", request.Email)})
			return
		}

		accountID, err := insertAccount(r.Context(), cfg, request.Email, request.FirstName, request.LastName)
		var pgError *pgconn.PgError
		switch {
		case errors.As(err, &pgError) && pgError.Code == "23505":
			logf("signup for %s rejected: the email address is already taken", request.Email)
			writeJSON(w, http.StatusConflict, map[string]string{"error": "an account with this email address exists"})
		case err != nil:
			logf("signup for %s failed: %v", request.Email, err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "insert account: " + err.Error()})
		default:
			logf("signup: created account %s for %s", accountID, request.Email)
			writeJSON(w, http.StatusOK, map[string]string{"account_id": accountID})
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body) //nolint:errcheck
}

// selfSignedCertificate makes a certificate for the HTTPS listener, as
// cocalc-docker makes one with CN cocalc when none is mounted.
func selfSignedCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	names := []string{"localhost"}
	if hostname, err := os.Hostname(); err == nil && hostname != "" {
		names = append(names, hostname)
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "cocalc"},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// startHTTPS listens on address and serves handler until ctx ends.
func startHTTPS(ctx context.Context, address string, handler http.Handler, logf func(string, ...any)) error {
	certificate, err := selfSignedCertificate()
	if err != nil {
		return fmt.Errorf("make the HTTPS certificate: %w", err)
	}
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", address, err)
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{certificate}, MinVersion: tls.VersionTLS12},
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		server.Shutdown(shutdownCtx) //nolint:errcheck
	}()
	go func() {
		if err := server.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("HTTPS server on %s stopped: %v", address, err)
		}
	}()
	logf("serving HTTPS on %s", address)
	return nil
}
