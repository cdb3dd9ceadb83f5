package rollout

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxIDLen is the longest version ID: a tag or a commit hash, not a text.
const maxIDLen = 128

// checkID returns what is wrong with a version ID, which goes into signal
// summaries, reports and status pages as it is: it must be 1 to 128 bytes
// of UTF-8 without control characters or line separators, so that it can
// neither forge a line of a report nor drive a terminal.
func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("is empty")
	case len(id) > maxIDLen:
		return fmt.Errorf("%.32q... is %d bytes, more than %d", id, len(id), maxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%q is not valid UTF-8", id)
	}
	for _, r := range id {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%q has the control character %U", id, r)
		}
	}
	return nil
}

// VersionStatus is what is known about a version.
type VersionStatus string

// The version statuses.
const (
	StatusPending VersionStatus = "pending" // deployed, not yet judged
	StatusHeld    VersionStatus = "held"    // analysis inconclusive: waiting for a person
	StatusGood    VersionStatus = "good"    // passed analysis (or declared stable)
	StatusBad     VersionStatus = "bad"     // failed analysis; never rolled forward to again
)

// Version is one deployed version of the service (a build, a config
// revision, a model).
type Version struct {
	ID         string        // e.g. "v1.5.0" or a commit hash
	Status     VersionStatus // what analysis (or a person) decided
	Note       string        // what the version changed, for people
	DeployedAt time.Time     // when Deploy recorded it
	DecidedAt  time.Time     // when Status last changed from pending
}

// Versions records the versions of a service: the current one, the last
// known good one and the history, oldest first (the last 50, keeping the
// current and the last known good one). Build one with [NewVersions]; it is safe for
// concurrent use.
type Versions struct {
	mu       sync.Mutex // guards versions and current
	versions []Version  // oldest first
	current  int        // index into versions
}

const historyLimit = 50

// NewVersions returns a record whose current and last known good version is
// stable. A version ID is 1 to 128 bytes of UTF-8 without control
// characters or line separators.
func NewVersions(stable string) (*Versions, error) {
	if err := checkID(stable); err != nil {
		return nil, fmt.Errorf("rollout: NewVersions: stable version %w", err)
	}
	now := time.Now()
	return &Versions{versions: []Version{{ID: stable, Status: StatusGood, Note: "initial stable version", DeployedAt: now, DecidedAt: now}}}, nil
}

// Deploy records a new current version, pending analysis. Deploying a version
// marked bad, or the current one again, or an ID that [NewVersions] would
// refuse, is an error.
func (r *Versions) Deploy(id, note string) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("rollout: Versions.Deploy: id %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.versions[r.current].ID == id {
		return fmt.Errorf("rollout: Versions.Deploy: %q is already current", id)
	}
	for _, v := range r.versions {
		if v.ID == id && v.Status == StatusBad {
			return fmt.Errorf("rollout: Versions.Deploy: %q was marked bad", id)
		}
	}
	r.versions = append(r.versions, Version{ID: id, Status: StatusPending, Note: note, DeployedAt: time.Now()})
	r.current = len(r.versions) - 1
	if len(r.versions) > historyLimit {
		r.trim()
	}
	return nil
}

// trim drops the oldest version that is neither current nor the last known
// good one. r.mu must be held.
func (r *Versions) trim() {
	lkg := r.lastGood(-1)
	for i := range r.versions {
		if i != r.current && i != lkg {
			r.versions = slices.Delete(r.versions, i, i+1)
			if r.current > i {
				r.current--
			}
			return
		}
	}
}

// lastGood returns the index of the newest good version other than skip, or
// -1. r.mu must be held.
func (r *Versions) lastGood(skip int) int {
	for i := len(r.versions) - 1; i >= 0; i-- {
		if i != skip && r.versions[i].Status == StatusGood {
			return i
		}
	}
	return -1
}

// Current returns the current version.
func (r *Versions) Current() Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.versions[r.current]
}

// LastKnownGood returns the newest version that passed analysis.
func (r *Versions) LastKnownGood() (Version, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.lastGood(-1); i >= 0 {
		return r.versions[i], true
	}
	return Version{}, false
}

// History returns the versions, oldest first.
func (r *Versions) History() []Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.versions)
}

// Mark sets a version's status by hand, e.g. to promote a held version
// after a person looked at it.
func (r *Versions) Mark(id string, s VersionStatus) error {
	switch s {
	case StatusPending, StatusHeld, StatusGood, StatusBad:
	default:
		return fmt.Errorf("rollout: Versions.Mark: status %q is not pending, held, good or bad", s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.versions {
		if r.versions[i].ID == id {
			r.versions[i].Status, r.versions[i].DecidedAt = s, time.Now()
			return nil
		}
	}
	return fmt.Errorf("rollout: Versions.Mark: unknown version %q", id)
}

// stableFor returns the version to roll back to from id: the newest good
// version other than id.
func (r *Versions) stableFor(id string) (Version, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	skip := slices.IndexFunc(r.versions, func(v Version) bool { return v.ID == id })
	if i := r.lastGood(skip); i >= 0 {
		return r.versions[i], true
	}
	return Version{}, false
}

// replaceCurrent makes id current again (after a rollback) if from is
// still current, and reports whether it was.
func (r *Versions) replaceCurrent(from, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.versions[r.current].ID != from {
		return false
	}
	if i := slices.IndexFunc(r.versions, func(v Version) bool { return v.ID == id }); i >= 0 {
		r.current = i
	}
	return true
}
