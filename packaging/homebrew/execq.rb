# Homebrew formula for execq. `scripts/release.sh VERSION` writes this file with the release's
# url and sha256 filled in (dist/execq.rb), ready for a tap; the copy here is its template.
#
# `brew services start execq` runs `execq drain` every 2 seconds under launchd (a LaunchAgent
# with StartInterval). Homebrew's service block cannot say WatchPaths, so it does not react the
# moment a job lands in pending/ as `execq service install` does (WatchPaths on pending/ plus
# StartInterval 2, a queue of your choosing, ExitTimeOut for long jobs). Use one of the two, not
# both; both at once is harmless (drains take a lock) but starts twice the drains.
class Execq < Formula
  desc "Local, file-based command queue run by launchd, with an MCP server for AI agents"
  homepage "https://github.com/execq/execq"
  url "https://github.com/execq/execq/releases/download/v@VERSION@/execq-@VERSION@.tar.gz"
  sha256 "@SHA256@"
  license any_of: ["MIT", "Apache-2.0"]
  head "https://github.com/execq/execq.git", branch: "main"

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    generate_completions_from_executable(bin/"execq", "completions")
    (man1/"execq.1").write Utils.safe_popen_read(bin/"execq", "man")
  end

  service do
    run [opt_bin/"execq", "drain"]
    run_type :interval
    interval 2
    environment_variables PATH: std_service_path_env
    log_path var/"log/execq.log"
    error_log_path var/"log/execq.log"
  end

  def caveats
    <<~EOS
      To have jobs run as soon as they are queued (launchd WatchPaths), prefer
        execq service install
      over `brew services start execq`, which runs a drain every 2 seconds.
      To let AI agents use the queue, see `man execq` (execq mcp).
    EOS
  end

  test do
    ENV["EXECQ_QUEUE"] = (testpath/"queue").to_s
    system bin/"execq", "submit", "--id", "hello", "--", "echo", "hello from brew"
    system bin/"execq", "drain"
    assert_match "hello from brew", shell_output("#{bin}/execq show hello")
    assert_match "execq #{version}", shell_output("#{bin}/execq --version")
  end
end
