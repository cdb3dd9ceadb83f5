package firebreak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/firebreak-go/firebreak"
)

// A public status page: declared components only, in Statuspage's words,
// with the update a person wrote. Mount Handler at a path ending in "/".
func ExampleStatusPage() {
	board, _ := firebreak.NewBoard("shop", firebreak.WithComponents("checkout", "search"))
	defer board.Close(context.Background())
	page, _ := firebreak.NewStatusPage(board, firebreak.WithPageName("Example Shop"))
	page.PostUpdate(firebreak.StatusUpdate{Title: "Slow search", Status: firebreak.UpdateInvestigating, Impact: firebreak.ImpactMinor,
		Components: []string{"search"}, Message: "Search is slow for some customers."}, "alice")
	page.Start(context.Background())
	defer page.Close(context.Background())

	w := httptest.NewRecorder()
	page.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/status/summary.json", nil))
	var sum struct {
		Status     struct{ Description string }
		Components []struct{ Name, Status string }
		Incidents  []struct {
			Name    string
			Updates []struct{ Status, Body string } `json:"incident_updates"`
		}
	}
	json.Unmarshal(w.Body.Bytes(), &sum)
	fmt.Println(sum.Status.Description)
	for _, c := range sum.Components {
		fmt.Println(c.Name, c.Status)
	}
	fmt.Println(sum.Incidents[0].Name+":", sum.Incidents[0].Updates[0].Status, "—", sum.Incidents[0].Updates[0].Body)
	fmt.Println(w.Header().Get("Cache-Control"))
	// Output:
	// Minor Service Outage
	// checkout operational
	// search degraded_performance
	// Slow search: investigating — Search is slow for some customers.
	// public, max-age=30, stale-while-revalidate=60
}
