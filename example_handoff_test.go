package firebreak_test

import (
	"fmt"
	"time"

	"github.com/firebreak-go/firebreak"
)

func handoffNotification() firebreak.Notification {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return firebreak.Notification{
		Event: firebreak.EventDetected, At: at, AlertSeverity: "critical",
		Incident: firebreak.Incident{
			ID: "inc-1", Title: "ErrorBudgetBurn: checkout-api → payments-db", Service: "checkout", Env: "prod",
			FaultDomain: "payments-db", GroupKey: `{}:{env="prod", fault_domain="payments-db", service="checkout"}`,
			Severity: firebreak.Fatal, Level: 1, Lead: "command centre", State: firebreak.Detected,
			Alerts: []firebreak.AlertRef{{
				Kind: firebreak.KindErrorBudgetBurn, Firing: true, FirstSeen: at.Add(-time.Minute),
				Labels: map[string]string{"alertname": "ErrorBudgetBurn", "service": "checkout", "env": "prod", "route": "GET /pay"},
			}},
		},
	}
}

// The alerts an Alertmanager notifier posts for a Fatal announcement: the
// alert's labels plus severity, alive for three resend intervals.
func ExampleAlertmanager_Alerts() {
	am, err := firebreak.NewAlertmanager("http://alertmanager:9093", firebreak.WithResendInterval(time.Minute))
	if err != nil {
		panic(err)
	}
	for _, a := range am.Alerts(handoffNotification()) {
		fmt.Println(a.Labels["severity"], a.Labels["alertname"], a.Labels["route"], a.EndsAt.Format(time.TimeOnly))
	}
	// Output:
	// critical ErrorBudgetBurn GET /pay 12:03:00
}

// What PagerDuty receives over an incident's life.
func ExamplePagerDuty_Event() {
	pd, err := firebreak.NewPagerDuty("0123456789abcdef0123456789abcdef")
	if err != nil {
		panic(err)
	}
	n := handoffNotification()
	for _, ev := range []firebreak.Event{firebreak.EventDetected, firebreak.EventSignal, firebreak.EventAcknowledged, firebreak.EventResolved} {
		n.Event = ev
		e, ok := pd.Event(n)
		if !ok {
			fmt.Println(ev, "→ nothing")
			continue
		}
		line := fmt.Sprint(ev, " → ", e.EventAction, " ", e.DedupKey)
		if e.Payload != nil {
			line += " " + e.Payload.Severity + " " + e.Payload.Source
		}
		fmt.Println(line)
	}
	// Output:
	// detected → trigger {}:{env="prod", fault_domain="payments-db", service="checkout"} critical checkout/prod
	// signal → nothing
	// acknowledged → acknowledge {}:{env="prod", fault_domain="payments-db", service="checkout"}
	// resolved → resolve {}:{env="prod", fault_domain="payments-db", service="checkout"}
}

// Text from signals and people is escaped before it goes into Slack mrkdwn.
func ExampleSlackEscape() {
	fmt.Println(firebreak.SlackEscape("db <primary> & replica <!channel>"))
	// Output:
	// db &lt;primary&gt; &amp; replica &lt;!channel&gt;
}
