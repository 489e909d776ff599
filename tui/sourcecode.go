package tui

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SourceFiles finds the source code a frame names. A file named in DWARF
// or a source map is looked up, in order: at its own path when that is
// absolute, in the source map's sourcesContent as Embedded gives it
// (AssemblyScript and Emscripten embed every source), beside the module,
// under each source directory (--source-dir), among the sources built into
// wasmdbg (FS: the demo's plugin), and relative to the working directory.
// Beside the module, under a source directory and in FS, the name is
// tried whole and then with its leading directories dropped one by one, so
// a build path such as "/src/plugin/plugin.cc" is found as "plugin.cc"
// beside the module. Open does file IO: the UI calls it only from
// commands; the module's source map is read by package symbolize, not
// here.
type SourceFiles struct {
	// Module is the path of the module whose frames are shown; "" when
	// the module is not a file (embedded in the binary).
	Module string
	// Dirs are the directories given with --source-dir.
	Dirs []string
	// Embedded gives the sources the module carries in its source map
	// (sourcesContent): the *symbolize.Module that symbolizes its frames.
	Embedded EmbeddedSources
	// FS holds source files built into wasmdbg (fixtures.Fixture.Sources
	// for the demo), so they show wherever wasmdbg runs.
	FS fs.FS
}

// EmbeddedSources gives the text of the source files a module carries
// itself, by the names its frames give them; *symbolize.Module does, from
// its source map's sourcesContent.
type EmbeddedSources interface {
	SourceContent(file string) ([]byte, bool)
}

// SourceText is a source file split into lines, or why it is missing.
type SourceText struct {
	Name  string   // as the frame names it
	From  string   // where it was found: a path, or "source map"
	Lines []string // without line ends
	Err   string   // set when the file could not be shown
}

// maxSourceBytes caps a source file read for display.
const maxSourceBytes = 16 << 20

// Open returns the source file named name.
func (f *SourceFiles) Open(name string) SourceText {
	if f == nil {
		f = &SourceFiles{}
	}
	st := SourceText{Name: name}
	if name == "" {
		st.Err = "this frame names no source file (no DWARF line or source map entry)"
		return st
	}
	if filepath.IsAbs(name) {
		if text, err := readSource(name); err == nil {
			return st.with(name, text)
		} else if !errors.Is(err, fs.ErrNotExist) {
			st.Err = err.Error()
			return st
		}
	}
	if f.Embedded != nil {
		if text, ok := f.Embedded.SourceContent(name); ok {
			return st.with("source map", string(text))
		}
	}
	var looked []string
	if f.Module != "" {
		dir := filepath.Dir(f.Module)
		if p, text, err := findUnder(dir, name); err != nil {
			st.Err = err.Error()
			return st
		} else if p != "" {
			return st.with(p, text)
		}
		looked = append(looked, "beside the module ("+dir+")")
	}
	for _, dir := range f.Dirs {
		if p, text, err := findUnder(dir, name); err != nil {
			st.Err = err.Error()
			return st
		} else if p != "" {
			return st.with(p, text)
		}
	}
	if len(f.Dirs) > 0 {
		looked = append(looked, "under --source-dir "+strings.Join(f.Dirs, ", "))
	} else {
		looked = append(looked, "under --source-dir (none given)")
	}
	if f.FS != nil {
		if text, found, err := findInFS(f.FS, name); err != nil {
			st.Err = err.Error()
			return st
		} else if found {
			return st.with(builtIn, text)
		}
		looked = append(looked, "among the sources built into wasmdbg")
	}
	if !filepath.IsAbs(name) {
		if text, err := readSource(name); err == nil {
			return st.with(name, text)
		}
		looked = append(looked, "in the working directory")
	}
	st.Err = fmt.Sprintf("%s: not found %s; pass --source-dir with the plugin's source tree", name, strings.Join(looked, ", "))
	return st
}

func (st SourceText) with(from, text string) SourceText {
	st.From = from
	text = strings.TrimSuffix(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	st.Lines = strings.Split(sanitize(text), "\n")
	return st
}

// builtIn is SourceText.From for a file found in SourceFiles.FS.
const builtIn = "built into wasmdbg"

// findUnder looks for name under dir, whole and then without its leading
// directories. It returns "" and no error when nothing is there.
func findUnder(dir, name string) (string, string, error) {
	var found, text string
	err := eachSuffix(name, func(rel string) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		t, err := readSource(p)
		if err == nil {
			found, text = p, t
		}
		return err
	})
	return found, text, err
}

// findInFS is findUnder in a file system of built-in sources; found is
// false and err nil when nothing is there.
func findInFS(fsys fs.FS, name string) (text string, found bool, err error) {
	err = eachSuffix(name, func(rel string) error {
		if !fs.ValidPath(rel) {
			return fs.ErrNotExist
		}
		t, err := readSourceFS(fsys, rel)
		if err == nil {
			text, found = t, true
		}
		return err
	})
	return text, found, err
}

// eachSuffix calls try with name (slash-separated, relative) and then with
// its leading directories dropped one by one, until try finds the file
// (nil) or fails other than with fs.ErrNotExist.
func eachSuffix(name string, try func(rel string) error) error {
	rel := filepath.ToSlash(name)
	rel = strings.TrimPrefix(rel, "/")
	for {
		rel = strings.TrimPrefix(rel, "./")
		if rel != "" && !strings.HasPrefix(rel, "../") {
			err := try(rel)
			if err == nil || !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		_, after, ok := strings.Cut(rel, "/")
		if !ok {
			return nil
		}
		rel = after
	}
}

func readSource(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if err := showable(p, fi); err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return textOf(p, b)
}

func readSourceFS(fsys fs.FS, p string) (string, error) {
	fi, err := fs.Stat(fsys, p)
	if err != nil {
		return "", err
	}
	if err := showable(p, fi); err != nil {
		return "", err
	}
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return "", err
	}
	return textOf(p, b)
}

// showable refuses directories and files too large to show.
func showable(p string, fi fs.FileInfo) error {
	if fi.IsDir() {
		return fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	if fi.Size() > maxSourceBytes {
		return fmt.Errorf("%s: %d bytes, too large to show", p, fi.Size())
	}
	return nil
}

// textOf refuses binary files.
func textOf(p string, b []byte) (string, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return "", fmt.Errorf("%s: not a text file", p)
	}
	return string(b), nil
}
