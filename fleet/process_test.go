package fleet_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/internal/testserver"
)

// TestReplicaProcesses runs replicas as separate processes: this test
// binary, started again three times as TestReplicaProcess, each a Board on
// the same Redis reporting the same outage. This process is a fourth
// replica and acknowledges after 2 (scaled) minutes. Across the four
// processes: one announcement, no breach, one ID, the acknowledgement
// everywhere.
func TestReplicaProcesses(t *testing.T) {
	if os.Getenv("FLEET_REPLICA_REDIS") != "" {
		t.Skip("a child replica")
	}
	srv := testserver.StartRedis(t)
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FLEET_REPLICA_REDIS="+srv.Addr, fmt.Sprintf("FLEET_REPLICA_INDEX=%d", i+1))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	f := newReplicas(t, newStore(t, srv), 1)
	start := time.Now()
	f.boards[0].Report(outage)
	time.Sleep(time.Until(start.Add(2 * minute)))
	var inc firebreak.Incident
	waitFor(t, f.rec, 5*time.Second, "the incident here", func() bool {
		var ok bool
		inc, ok = openIn(f.boards[0], "payments-db")
		return ok
	})
	if err := f.boards[0].Acknowledge(inc.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	announced := f.rec.count(firebreak.EventDetected)
	for i, cmd := range cmds {
		err := cmd.Wait()
		out := outs[i].String()
		if err != nil {
			t.Fatalf("replica process %d: %v\n%s", i+1, err, out)
		}
		var id, ackBy string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			switch {
			case len(fields) >= 2 && fields[0] == "NOTE":
				if firebreak.Event(fields[1]) == firebreak.EventDetected {
					announced++
				}
				if ev := firebreak.Event(fields[1]); ev == firebreak.EventBreached || ev == firebreak.EventRenotify {
					t.Errorf("replica process %d sent %s", i+1, ev)
				}
			case len(fields) == 3 && fields[0] == "STATE":
				id, ackBy = fields[1], fields[2]
			}
		}
		if id != inc.ID || ackBy != "ana" {
			t.Errorf("replica process %d ended with %s acknowledged by %q, want %s by ana\n%s", i+1, id, ackBy, inc.ID, out)
		}
	}
	if announced != 1 {
		t.Errorf("%d announcements across four processes, want 1", announced)
	}
}

// TestReplicaProcess is one child replica of TestReplicaProcesses.
func TestReplicaProcess(t *testing.T) {
	addr := os.Getenv("FLEET_REPLICA_REDIS")
	if addr == "" {
		return // a helper process: it runs only as a child of TestReplicaProcesses
	}
	srv := &testserver.Redis{Addr: addr}
	f := newReplicas(t, newStore(t, srv), 1)
	start := time.Now()
	f.boards[0].Report(outage)
	time.Sleep(time.Until(start.Add(12 * minute))) // past the deadline
	for _, n := range f.rec.match(func(note) bool { return true }) {
		fmt.Printf("NOTE %s %s\n", n.n.Event, n.n.Incident.ID)
	}
	if inc, ok := openIn(f.boards[0], "payments-db"); ok {
		fmt.Printf("STATE %s %s\n", inc.ID, inc.AcknowledgedBy)
	}
	f.boards[0].Close(context.Background())
}
