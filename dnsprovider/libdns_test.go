package dnsprovider_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/memory"
)

// TestMemoryConformance: set, read back, re-set idempotently, foreign
// records preserved, delete only ours, long values (docs/design.md invariant 5).
func TestMemoryConformance(t *testing.T) {
	for _, quoted := range []bool{false, true} {
		m := &memory.Provider{QuoteTXT: quoted}
		m.AddZone("example.test")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		foreign := "google-site-verification=abc"
		if _, err := m.AppendRecords(ctx, "example.test.", []libdns.Record{libdns.TXT{Name: "_mta-sts", TTL: time.Hour, Text: foreign}, libdns.TXT{Name: "_mta-sts", TTL: time.Hour, Text: "v=STSv1; id=old;"}}); err != nil {
			t.Fatal(err)
		}
		p := dnsprovider.FromLibdns("memory", m, dnsprovider.LibdnsOptions{})
		name := "_mta-sts.example.test"
		ch, err := p.SetOurs(ctx, "example.test", name, dnsprovider.KindSTS, "v=STSv1; id=new;", 0)
		if err != nil {
			t.Fatal(err)
		}
		if !ch.Changed || ch.ReplacedTTL != time.Hour {
			t.Errorf("quoted=%v: change %+v", quoted, ch)
		}
		want := []string{foreign, "v=STSv1; id=new;"}
		if !slices.Equal(ch.After.Values, want) {
			t.Errorf("quoted=%v: after = %q, want %q", quoted, ch.After.Values, want)
		}
		ch, err = p.SetOurs(ctx, "example.test", name, dnsprovider.KindSTS, "v=STSv1; id=new;", 0)
		if err != nil || ch.Changed {
			t.Errorf("re-set: changed=%v err=%v", ch.Changed, err)
		}
		long := "v=STSv1; id=x;" + strings.Repeat("a", 400)
		if _, err := p.SetOurs(ctx, "example.test", name, dnsprovider.KindSTS, long, 0); err != nil {
			t.Fatal(err)
		}
		got, _ := p.ReadTXT(ctx, "example.test", name)
		if !slices.Contains(got.Values, long) {
			t.Errorf("long value lost: %q", got.Values)
		}
		ch, err = p.DeleteOurs(ctx, "example.test", name, dnsprovider.KindSTS)
		if err != nil || !slices.Equal(ch.After.Values, []string{foreign}) {
			t.Errorf("delete: %q %v", ch.After.Values, err)
		}
		if _, err := p.SetOurs(ctx, "example.test", name, dnsprovider.KindSTS, "google=1", 0); err == nil {
			t.Error("writing a foreign value as ours was accepted")
		}
	}
}

// TestPartialWriteReadsBack: a delete that fails after the append is
// reported with what the zone holds now.
func TestPartialWriteReadsBack(t *testing.T) {
	m := &memory.Provider{}
	m.AddZone("example.test")
	ctx := context.Background()
	m.AppendRecords(ctx, "example.test", []libdns.Record{libdns.TXT{Name: "_mta-sts", TTL: time.Minute, Text: "v=STSv1; id=old;"}})
	m.Fail = func(op string) error {
		if op == "delete" {
			return errors.New("HTTP 400: nope")
		}
		return nil
	}
	p := dnsprovider.FromLibdns("memory", m, dnsprovider.LibdnsOptions{})
	_, err := p.SetOurs(ctx, "example.test", "_mta-sts.example.test.", dnsprovider.KindSTS, "v=STSv1; id=new;", 0)
	var pe *dnsprovider.PartialError
	if !errors.As(err, &pe) || len(pe.Now.Values) != 2 || !strings.HasPrefix(err.Error(), "memory: ") {
		t.Fatalf("err = %v", err)
	}
}

// TestSecretRedacted: a secret in a provider's error never reaches the error text.
func TestSecretRedacted(t *testing.T) {
	m := &memory.Provider{Fail: func(string) error { return errors.New("401 Unauthorized token s3cr3t-token") }}
	m.AddZone("example.test")
	p := dnsprovider.FromLibdns("cloudflare", m, dnsprovider.LibdnsOptions{Secrets: []string{"s3cr3t-token"}, AuthHint: "CLOUDFLARE_API_TOKEN"})
	_, err := p.ReadTXT(context.Background(), "example.test", "_mta-sts.example.test")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !errors.Is(err, dnsprovider.ErrAuth) || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("err = %v", err)
	}
}

// TestProviderCallsLogged: with a debug logger (stspilot --debug) every
// provider call is one line, and a secret in the provider's error is
// redacted there as in the error, even by a handler that redacts nothing.
func TestProviderCallsLogged(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)
	m := &memory.Provider{}
	m.AddZone("example.test")
	p := dnsprovider.FromLibdns("cloudflare", m, dnsprovider.LibdnsOptions{Secrets: []string{"s3cr3t-token"}})
	ctx := context.Background()
	if _, err := p.SetOurs(ctx, "example.test", "_mta-sts.example.test.", dnsprovider.KindSTS, "v=STSv1; id=new;", 0); err != nil {
		t.Fatal(err)
	}
	m.Fail = func(string) error { return errors.New("401 Unauthorized token s3cr3t-token") }
	p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	out := buf.String()
	for _, want := range []string{"op=get", "op=append", "provider=cloudflare", "zone=example.test", "[redacted]"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("a secret reached the log:\n%s", out)
	}
}
