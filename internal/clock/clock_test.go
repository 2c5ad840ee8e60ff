package clock

import (
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeStandsStillAndAdvancesOnWait(t *testing.T) {
	c := NewFake(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("now %s", c.Now())
	}
	c.Advance(time.Hour)
	if got := <-c.After(2 * time.Hour); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("After fired at %s", got)
	}
	if !c.Now().Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("now %s after the wait", c.Now())
	}
	<-c.After(-time.Minute) // a negative wait fires now, never goes back
	if !c.Now().Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("a negative wait moved the clock to %s", c.Now())
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Set: %s", c.Now())
	}
}

func TestFakeConcurrent(t *testing.T) {
	c := NewFake(t0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				<-c.After(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if want := t0.Add(1600 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("now %s, want %s", c.Now(), want)
	}
}

func TestSystem(t *testing.T) {
	var c Clock = System{}
	if d := time.Since(c.Now()); d < 0 || d > time.Minute {
		t.Fatalf("System.Now is off by %s", d)
	}
	<-c.After(time.Millisecond)
}
