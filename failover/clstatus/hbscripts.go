package clstatus

import "fmt"

// Sender sends a standby or takeover request to directord.
type Sender func(cmd, arg string) error

// HBStandby is heartbeat's hb_standby [all|foreign|local|failback]: this
// node gives up those resources (failback is foreign). self is the
// program's path as the shell script would see it in $0.
func HBStandby(self string, args []string, send Sender, env *Env) int {
	res, ok := scriptArgs(self, args, true, env)
	if !ok {
		return 1
	}
	if res == "failback" {
		res = "foreign"
	}
	// The script's ha_log line (on stderr when heartbeat runs without a
	// log daemon).
	fmt.Fprintf(env.Stderr, "%s Going standby [%s].\n", env.now().Format("Jan 02 15:04:05"), res)
	return request(self, "standby", res, send, env)
}

// HBTakeover is heartbeat's hb_takeover [all|foreign|local|failback]: the
// other node is asked to give those resources to this one.
func HBTakeover(self string, args []string, send Sender, env *Env) int {
	res, ok := scriptArgs(self, args, false, env)
	if !ok {
		return 1
	}
	return request(self, "takeover", res, send, env)
}

// scriptArgs checks the argument as heartbeat's two scripts do, with
// their messages: too many arguments, a wrong one, --help (hb_standby
// checks --help after the word list, hb_takeover before; same output).
func scriptArgs(self string, args []string, standby bool, env *Env) (string, bool) {
	if len(args) >= 2 {
		fmt.Fprintf(env.Stdout, "%s: too many arguments\n", self)
		usage(self, env)
		return "", false
	}
	res := "all"
	if len(args) == 1 {
		res = args[0]
	}
	switch res {
	case "all", "foreign", "local", "failback":
		return res, true
	case "--help":
		usage(self, env)
		return "", false
	}
	fmt.Fprintf(env.Stdout, "%s: wrong resources(%s).\n", self, res)
	usage(self, env)
	return "", false
}

func usage(self string, env *Env) {
	fmt.Fprintln(env.Stdout, "usage:")
	fmt.Fprintf(env.Stderr, "%s [all|foreign|local|failback]\n", self)
}

// request sends it. heartbeat's scripts write to heartbeat's FIFO and say
// nothing (they hang, or write a plain file, when heartbeat is not
// running); ours says why it could not ask and fails.
func request(self, cmd, arg string, send Sender, env *Env) int {
	if err := send(cmd, arg); err != nil {
		fmt.Fprintf(env.Stderr, "%s: directord did not take the request: %v\n", self, err)
		return 1
	}
	return 0
}
