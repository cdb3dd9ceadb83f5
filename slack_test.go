package firebreak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
)

const slackToken = "xoxb-1234-5678-s3cr3tT0kenValue"

// fakeSlack is a faithful stand-in for Slack's Web API methods
// chat.postMessage and chat.update: it checks the bot token, the JSON shape
// of Block Kit messages and that replies and updates name a parent message
// that exists.
type fakeSlack struct {
	mu       sync.Mutex
	seq      int
	parents  map[string]*slackPost // ts → parent message, as updated
	replies  []slackPost
	problems []string
	failNext int // answer the next calls with ok:false internal_error
}

type slackPost struct {
	TS       string
	ThreadTS string
	Text     string
	Body     string // the blocks' text, joined
	Updates  int
}

type fakeBlock struct {
	Type     string            `json:"type"`
	Text     *fakeText         `json:"text"`
	Fields   []fakeText        `json:"fields"`
	Elements []fakeText        `json:"elements"`
	Extra    map[string]string `json:"-"`
}

type fakeText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// rawMrkdwn finds "<" that is not a link Slack would render ("<http…|…>"):
// user text must arrive escaped.
var slackLink = regexp.MustCompile(`<https?://[^|>]+\|[^>]*>`)

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	defer f.mu.Unlock()
	answer := func(v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get("Authorization") != "Bearer "+slackToken {
		answer(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if f.failNext > 0 {
		f.failNext--
		answer(map[string]any{"ok": false, "error": "internal_error"})
		return
	}
	bad := func(s string, a ...any) {
		f.problems = append(f.problems, fmt.Sprintf(s, a...))
		answer(map[string]any{"ok": false, "error": "invalid_blocks"})
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		bad("Content-Type %q", r.Header.Get("Content-Type"))
		return
	}
	var msg struct {
		Channel  string      `json:"channel"`
		TS       string      `json:"ts"`
		ThreadTS string      `json:"thread_ts"`
		Text     string      `json:"text"`
		Blocks   []fakeBlock `json:"blocks"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		bad("JSON: %v", err)
		return
	}
	if msg.Channel == "" {
		answer(map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if msg.Text == "" || len(msg.Blocks) == 0 || len(msg.Blocks) > 50 {
		bad("text %q, %d blocks", msg.Text, len(msg.Blocks))
		return
	}
	var texts []string
	check := func(t fakeText, max int) {
		switch {
		case t.Type != "plain_text" && t.Type != "mrkdwn":
			bad("text type %q", t.Type)
		case t.Text == "" || len(t.Text) > max:
			bad("text of %d characters (max %d)", len(t.Text), max)
		case t.Type == "mrkdwn" && strings.Contains(slackLink.ReplaceAllString(t.Text, ""), "<"):
			bad("unescaped < in mrkdwn %q", t.Text)
		}
		texts = append(texts, t.Text)
	}
	for _, b := range msg.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" {
				bad("header needs plain_text")
				return
			}
			check(*b.Text, 150)
		case "section":
			if b.Text == nil && len(b.Fields) == 0 || len(b.Fields) > 10 {
				bad("section needs text or up to 10 fields")
				return
			}
			if b.Text != nil {
				check(*b.Text, 3000)
			}
			for _, fl := range b.Fields {
				check(fl, 2000)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				bad("context needs 1 to 10 elements")
				return
			}
			for _, e := range b.Elements {
				check(e, 2000)
			}
		default:
			bad("block type %q", b.Type)
			return
		}
	}
	joined := strings.Join(texts, "\n")
	switch r.URL.Path {
	case "/api/chat.postMessage":
		if msg.TS != "" {
			bad("postMessage with ts")
			return
		}
		if msg.ThreadTS != "" && f.parents[msg.ThreadTS] == nil {
			answer(map[string]any{"ok": false, "error": "thread_not_found"})
			return
		}
		f.seq++
		ts := fmt.Sprintf("1700000000.%06d", f.seq)
		p := slackPost{TS: ts, ThreadTS: msg.ThreadTS, Text: msg.Text, Body: joined}
		if msg.ThreadTS == "" {
			f.parents[ts] = &p
		} else {
			f.replies = append(f.replies, p)
		}
		answer(map[string]any{"ok": true, "channel": "C0FAKE", "ts": ts})
	case "/api/chat.update":
		p := f.parents[msg.TS]
		if p == nil || msg.Channel != "C0FAKE" {
			answer(map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		p.Text, p.Body = msg.Text, joined
		p.Updates++
		answer(map[string]any{"ok": true, "channel": "C0FAKE", "ts": msg.TS})
	default:
		answer(map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func (f *fakeSlack) snapshot() (parents []slackPost, replies []slackPost, problems []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.parents {
		parents = append(parents, *p)
	}
	return parents, slices.Clone(f.replies), slices.Clone(f.problems)
}

func newSlackBoard(t *testing.T, fake http.Handler, token string) (*firebreak.Board, *bytes.Buffer) {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	sl, err := firebreak.NewSlack(token, "#ops", firebreak.WithSlackBaseURL(srv.URL+"/api"), firebreak.WithHandoffClient(testClient(t)),
		firebreak.WithHandoffRetryFor(3*time.Second), firebreak.WithHandoffExternalURL("https://ops.example/firebreak"))
	if err != nil {
		t.Fatal(err)
	}
	p := firebreak.DefaultPlan()
	p.Timers.GroupWait = 0
	var logs bytes.Buffer
	b, err := firebreak.NewBoard("checkout", firebreak.WithEnv("prod"), firebreak.WithPlan(p), firebreak.WithNotifier(sl),
		firebreak.WithLogger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b, &logs
}

// One incident, one message: its later events are replies in its thread,
// and the message shows the current state. User text with mrkdwn control
// characters arrives escaped.
func TestSlackThreadPerIncident(t *testing.T) {
	fake := &fakeSlack{parents: map[string]*slackPost{}, failNext: 1} // the first call is retried
	b, _ := newSlackBoard(t, fake, slackToken)
	sev := signalFor(firebreak.Severe)
	sev.Component = "pay<&>api <!channel>"
	b.Report(sev)
	eventually(t, "the parent message is posted", func() bool { p, _, _ := fake.snapshot(); return len(p) == 1 })
	fatal := signalFor(firebreak.Fatal)
	b.Report(fatal) // same fault domain: joins, escalates
	eventually(t, "the escalation is in the thread", func() bool { _, r, _ := fake.snapshot(); return len(r) >= 1 })
	id := only(t, b).ID
	if err := b.Acknowledge(id, "ana <@U123>"); err != nil {
		t.Fatal(err)
	}
	if err := b.Resolve(id, "ana", "pool resized & restarted"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the resolution is in the thread", func() bool {
		_, r, _ := fake.snapshot()
		return len(r) > 0 && strings.Contains(r[len(r)-1].Body, "resolved")
	})
	parents, replies, problems := fake.snapshot()
	if len(problems) > 0 {
		t.Fatalf("fake Slack refused: %v", problems)
	}
	if len(parents) != 1 {
		t.Fatalf("%d parent messages, want 1", len(parents))
	}
	parent := parents[0]
	var events []string
	for _, r := range replies {
		if r.ThreadTS != parent.TS {
			t.Fatalf("reply %+v is not in the incident's thread %s", r, parent.TS)
		}
		if ev := strings.Fields(strings.Trim(r.Body, "*"))[0]; ev != "signal*" { // routine updates may coalesce
			events = append(events, ev)
		}
	}
	if want := []string{"escalated*", "acknowledged*", "resolved*"}; !slices.Equal(events, want) {
		t.Fatalf("thread events %v, want %v", events, want)
	}
	if parent.Updates != len(replies) || !strings.Contains(parent.Body, "resolved") || !strings.Contains(parent.Text, "resolved") {
		t.Fatalf("parent not brought up to date (%d updates): %+v", parent.Updates, parent)
	}
	all := parent.Body
	for _, r := range replies {
		all += "\n" + r.Body
	}
	for _, want := range []string{"pay&lt;&amp;&gt;api &lt;!channel&gt;", "ana &lt;@U123&gt;", "pool resized &amp; restarted", "<https://ops.example/firebreak/incidents/"} {
		if !strings.Contains(all, want) {
			t.Errorf("messages lack %q:\n%s", want, all)
		}
	}
}

// A refused token is a permanent error that never shows the token, in
// Notify's error or in the board's log.
func TestSlackKeepsTokenSecret(t *testing.T) {
	fake := &fakeSlack{parents: map[string]*slackPost{}}
	wrong := "xoxb-9999-8888-wr0ngT0kenValue"
	b, logs := newSlackBoard(t, fake, wrong)
	b.Report(signalFor(firebreak.Fatal))
	eventually(t, "the failure is logged", func() bool { return b.Stats().NotifyFailed >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Close(ctx)
	out := logs.String()
	if !strings.Contains(out, "invalid_auth") {
		t.Fatalf("log: %s", out)
	}
	if strings.Contains(out, "wr0ngT0ken") || strings.Contains(out, "9999-8888") {
		t.Fatalf("log shows the token: %s", out)
	}
}
