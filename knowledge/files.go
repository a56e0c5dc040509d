package knowledge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// File is one file to ingest from a file system.
type File struct {
	FS   fs.FS
	Path string // path within FS
	// Source is the document's identity: the path relative to the folder
	// that was named, or the file name when a file was named directly.
	Source string
}

// CollectFiles expands command-line arguments (files, folders, glob
// patterns) into the files to ingest, in a stable order. Folders are walked
// recursively; hidden entries, sidecar files (*.meta.yaml) and README files
// are skipped. A file's source (its identity for re-ingest) is its path
// relative to root, so naming a folder or a file inside it later finds the
// same documents; files outside root keep their absolute path.
func CollectFiles(root string, args []string) ([]File, error) {
	rootAbs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var out []File
	seen := map[string]bool{}
	add := func(abs string) {
		if seen[abs] || skipFile(filepath.Base(abs)) {
			return
		}
		seen[abs] = true
		source := filepath.ToSlash(abs)
		if rel, err := filepath.Rel(rootAbs, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			source = filepath.ToSlash(rel)
		}
		out = append(out, File{FS: os.DirFS(filepath.Dir(abs)), Path: filepath.Base(abs), Source: source})
	}
	for _, arg := range args {
		matches := []string{arg}
		if strings.ContainsAny(arg, "*?[") {
			m, err := filepath.Glob(arg)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", arg, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("pattern %q matches no file", arg)
			}
			matches = m
		}
		for _, p := range matches {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, err
			}
			info, err := os.Stat(abs)
			if err != nil {
				return nil, err
			}
			if !info.IsDir() {
				add(abs)
				continue
			}
			files, err := FilesIn(os.DirFS(abs))
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				add(filepath.Join(abs, filepath.FromSlash(f.Path)))
			}
		}
	}
	return out, nil
}

// FilesIn lists the ingestible files of a file system tree (for example the
// embedded demo knowledge base), sources relative to its root.
func FilesIn(fsys fs.FS) ([]File, error) {
	var out []File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != "." && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || skipFile(name) {
			return nil
		}
		out = append(out, File{FS: fsys, Path: p, Source: p})
		return nil
	})
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, err
}

func skipFile(name string) bool {
	lower := strings.ToLower(name)
	return IsSidecar(name) || strings.HasPrefix(name, ".") || lower == "readme.md" || lower == "readme.txt" || lower == "readme"
}

// FileResult is the outcome of ingesting one file.
type FileResult struct {
	File     File
	Result   Result
	Err      error
	Duration time.Duration
}

// Summary totals a batch of file ingests.
type Summary struct {
	Files, Created, Updated, Unchanged, Failed int
	Chunks, Tokens                             int
	Duration                                   time.Duration
}

// IngestFiles ingests files for the tenant with bounded concurrency. One
// failing file never stops the others: its error is in its FileResult.
// onDone, if set, is called (from one goroutine at a time) as each file
// finishes. Memory stays bounded by concurrency times the largest file.
func (s *Store) IngestFiles(ctx context.Context, tenant uuid.UUID, files []File, concurrency int, onDone func(FileResult)) Summary {
	start := time.Now()
	concurrency = max(1, concurrency)
	var (
		mu  sync.Mutex
		sum = Summary{Files: len(files)}
		wg  sync.WaitGroup
	)
	work := make(chan File)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				r := s.ingestFile(ctx, tenant, f)
				mu.Lock()
				switch {
				case r.Err != nil:
					sum.Failed++
				case r.Result.Outcome == Created:
					sum.Created++
				case r.Result.Outcome == Updated:
					sum.Updated++
				default:
					sum.Unchanged++
				}
				if r.Err == nil {
					sum.Chunks += r.Result.Chunks
					sum.Tokens += r.Result.Tokens
				}
				if onDone != nil {
					onDone(r)
				}
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		work <- f
	}
	close(work)
	wg.Wait()
	sum.Duration = time.Since(start)
	return sum
}

func (s *Store) ingestFile(ctx context.Context, tenant uuid.UUID, f File) FileResult {
	start := time.Now()
	r := FileResult{File: f}
	data, err := readLimited(f.FS, f.Path, s.loader.maxSize())
	if err == nil {
		var sidecar *Metadata
		sidecar, err = readSidecar(f.FS, f.Path)
		if err == nil {
			r.Result, err = s.Ingest(ctx, tenant, Input{Name: f.Source, Data: data, Sidecar: sidecar}, nil)
		}
	}
	r.Err, r.Duration = err, time.Since(start)
	return r
}

func readLimited(fsys fs.FS, p string, limit int64) ([]byte, error) {
	info, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, err
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d byte limit: %w", p, info.Size(), limit, ErrTooLarge)
	}
	return fs.ReadFile(fsys, p)
}

func readSidecar(fsys fs.FS, p string) (*Metadata, error) {
	f, err := fsys.Open(path.Clean(SidecarName(p)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ParseSidecar(f)
	if err != nil {
		return nil, fmt.Errorf("sidecar of %s: %w", p, err)
	}
	return &m, nil
}
