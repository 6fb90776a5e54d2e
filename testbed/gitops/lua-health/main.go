// Command lua-health runs an Argo CD resource health script in gopher-lua, the Lua 5.1
// interpreter Argo CD embeds, the way Argo CD's util/lua runs one: a fresh state with
// only the package, base and table libraries (health scripts get no string library
// unless Argo CD is told useOpenLibs), a one-second deadline, the live object as the
// global obj, and the table the chunk returns read as {status, message} through JSON,
// a status outside Argo CD's health codes becoming Unknown.
//
// Usage: lua-health SCRIPT < objects.json, where objects.json is a JSON array of
// objects; it prints a JSON array with one {"status", "message"} or {"error"} for each.
// Argo CD's own modules do not build here, so this is the part of it that decides.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// healthCodes are Argo CD's health.HealthStatusCode values.
var healthCodes = map[string]bool{
	"Unknown": true, "Progressing": true, "Healthy": true,
	"Suspended": true, "Degraded": true, "Missing": true,
}

// Verdict is what Argo CD would show for one object, or why the script failed.
type Verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lua-health SCRIPT < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	decoder := json.NewDecoder(os.Stdin)
	decoder.UseNumber()
	var objects []map[string]any
	if err := decoder.Decode(&objects); err != nil {
		fmt.Fprintln(os.Stderr, "objects:", err)
		os.Exit(2)
	}
	verdicts := make([]Verdict, 0, len(objects))
	for _, obj := range objects {
		verdicts = append(verdicts, health(string(script), obj))
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", " ")
	if err := out.Encode(verdicts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func health(script string, obj map[string]any) Verdict {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			return Verdict{Error: err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decode(l, obj))
	if err := l.DoString(script); err != nil {
		return Verdict{Error: err.Error()}
	}
	returned := l.Get(-1)
	switch returned.Type() {
	case lua.LTNil:
		return Verdict{}
	case lua.LTTable:
	default:
		return Verdict{Error: "expected table, got " + returned.Type().String()}
	}
	encoded, err := json.Marshal(encode(returned))
	if err != nil {
		return Verdict{Error: err.Error()}
	}
	var status struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(bytes.NewReader(encoded)).Decode(&status); err != nil {
		return Verdict{Error: err.Error()}
	}
	if !healthCodes[status.Status] {
		return Verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return Verdict{Status: status.Status, Message: status.Message}
}

// decode turns a JSON value into Lua as Argo CD's decodeValue does: every number a
// Lua number, arrays appended from index 1, objects as tables keyed by string.
func decode(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return lua.LNil
		}
		return lua.LNumber(f)
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case []any:
		table := l.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(decode(l, item))
		}
		return table
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, decode(l, item))
		}
		return table
	}
	return lua.LNil
}

// encode turns a returned Lua value into Go for JSON: a table with keys 1..n is an
// array, any other table an object keyed by its string keys.
func encode(value lua.LValue) any {
	switch v := value.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case lua.LBool:
		return bool(v)
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			items := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				items = append(items, encode(v.RawGetInt(i)))
			}
			return items
		}
		fields := map[string]any{}
		v.ForEach(func(key, item lua.LValue) {
			if s, ok := key.(lua.LString); ok {
				fields[string(s)] = encode(item)
			}
		})
		return fields
	}
	return nil
}
