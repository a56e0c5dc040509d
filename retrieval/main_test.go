package retrieval_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

type pgxTx = pgx.Tx

// drops are the shared fixtures' cleanups, run after all tests.
var drops []func() error

func TestMain(m *testing.M) {
	code := m.Run()
	for _, drop := range drops {
		if err := drop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}
