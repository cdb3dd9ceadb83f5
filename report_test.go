package firebreak_test

import (
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak"
)

// After a breach and a downgrade the report said "Deadline: MET", with the
// General due time next to Fatal's 10 minutes. The breach is now taken from
// the timeline, and due and within describe the same deadline.
func TestReportKeepsBreachAfterDowngrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		start := time.Now()
		// The payments database is down for a core component: burn reports
		// every ten seconds; nobody answers the page for 12 minutes.
		for time.Since(start) < 12*time.Minute {
			b.Report(burn(1000, 1))
			time.Sleep(10 * time.Second)
		}
		id := only(t, b).ID
		if !only(t, b).Breached {
			t.Fatal("not breached after 12 unanswered minutes at fatal")
		}
		if err := b.SetSeverity(id, "alice", firebreak.General, "only the batch path is affected"); err != nil {
			t.Fatal(err)
		}
		if err := b.Acknowledge(id, "alice"); err != nil {
			t.Fatal(err)
		}
		rep, err := b.IncidentReport(id)
		if err != nil {
			t.Fatal(err)
		}
		rr := rep.Response
		if rr.Outcome != firebreak.OutcomeBreached || !rr.Breached || rr.Met || rr.Severity != firebreak.Fatal ||
			time.Duration(rr.ResponseWithin) != 10*time.Minute || rr.EscalatedTo != "executive on call" {
			t.Fatalf("response record %+v", rr)
		}
		inc := only(t, b)
		if got := rr.Due.Sub(inc.DetectedAt); got != time.Duration(rr.ResponseWithin) {
			t.Fatalf("due %s after detection, but within %s", got, time.Duration(rr.ResponseWithin))
		}
		md := rep.Markdown()
		if !strings.Contains(md, "- Deadline: BREACHED at") || strings.Contains(md, "MET") ||
			!strings.Contains(md, "to respond within 10m0s (fatal)") || !strings.Contains(rep.Summary, "fatal response deadline was breached") {
			t.Fatalf("markdown:\n%s", md)
		}
	})
}

// A report taken before the deadline said "breached"; it now says the
// deadline is pending, and breached once it has passed unacknowledged.
func TestReportBeforeDeadlineIsPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		b.Report(signalFor(firebreak.Severe))
		time.Sleep(5 * time.Minute)
		id := only(t, b).ID
		rep, _ := b.IncidentReport(id)
		if rep.Response.Outcome != firebreak.OutcomePending || rep.Response.Breached || rep.Response.Met ||
			!strings.Contains(rep.Markdown(), "- Deadline: PENDING") {
			t.Fatalf("at 5 minutes of 15: %+v", rep.Response)
		}
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		rep, _ = b.IncidentReport(id)
		if rep.Response.Outcome != firebreak.OutcomeBreached || len(rep.Response.Breaches) != 1 {
			t.Fatalf("at 16 minutes of 15: %+v", rep.Response)
		}
		// Acknowledged in time: met.
		b.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "search", Tier: firebreak.Standard, Firing: true})
		time.Sleep(2 * time.Minute)
		var other string
		for _, inc := range b.List(firebreak.Filter{}) {
			if inc.ID != id {
				other = inc.ID
			}
		}
		b.Acknowledge(other, "bob")
		rep, _ = b.IncidentReport(other)
		if rep.Response.Outcome != firebreak.OutcomeMet || !rep.Response.Met || rep.Response.Due.Sub(rep.Response.AcknowledgedAt) <= 0 {
			t.Fatalf("acknowledged in time: %+v", rep.Response)
		}
	})
}

// Error text in a signal summary, and notes people type, could add a second
// "## Root cause", raw HTML or links to a postmortem, and a CR broke the
// timeline table.
func TestReportMarkdownEscapesUserText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBoard(t)
		hostile := "dial tcp: refused\r\n\r\n## Root cause\r\n\r\nthe DBA did it <script>alert(1)</script> " +
			"[click here](https://evil.example/login) ![x](https://evil.example/p.png) https://evil.example www.evil.example " +
			"ops@evil.example *bold* _em_ `code` ~~gone~~ | forged | cell |"
		sig := burn(1000, 1)
		sig.Component = "checkout-api\r\n# Owned"
		sig.Summary = hostile
		b.Report(sig)
		time.Sleep(time.Minute)
		id := only(t, b).ID
		b.Acknowledge(id, "alice <img src=x onerror=alert(1)>")
		b.Mitigate(id, "alice", "rolled back\r| fake | row |\r\n- [x] done")
		b.AddFinding(id, "bob", firebreak.Finding{Hypothesis: "1. pool exhausted\n---", SuspectedCause: hostile})
		rep, err := b.IncidentReport(id)
		if err != nil {
			t.Fatal(err)
		}
		rep.Lessons = []string{"- nested\n  - list", "> quote"}
		md := rep.Markdown()
		if strings.ContainsAny(md, "\r\u2028") {
			t.Error("a carriage return survived")
		}
		if n := strings.Count(md, "\n## Root cause\n"); n != 1 {
			t.Errorf("%d root cause headings", n)
		}
		for _, forged := range []string{"\n# Owned", "<script", "<img", "https://", "www.evil", "ops@evil", "*bold*", "_em_", "`code`", "~~gone", "\n- [x]", "\n---", "\n1. ", "\n- - nested", "\n- > quote"} {
			if strings.Contains(md, forged) {
				t.Errorf("markdown holds %q", forged)
			}
		}
		if regexp.MustCompile(`[^\\]\]\(`).MatchString(md) {
			t.Error("markdown holds a link")
		}
		// Every table row has exactly seven unescaped pipes.
		unescaped := regexp.MustCompile(`(^|[^\\])\|`)
		inTable := false
		for _, line := range strings.Split(md, "\n") {
			if strings.HasPrefix(line, "| Time (UTC)") {
				inTable = true
			}
			if inTable && line == "" {
				break
			}
			if inTable {
				if n := len(unescaped.FindAllString(strings.ReplaceAll(line, "||", "| |"), -1)); n != 7 {
					t.Errorf("table row with %d cells: %q", n-1, line)
				}
			}
		}
		if !strings.Contains(md, `| rolled back \| fake \| row \| - \[x\] done |`) {
			t.Errorf("the note is not shown as its text:\n%s", md)
		}
	})
}
