// MSBuild task (compiled by RoslynCodeTaskFactory, see LayoutGuidance.Native.targets).
//
// TorchSharp 0.107's libLibTorchSharp.so was linked with GCC 13 and so carries a version need on
// GLIBCXX_3.4.32, for one symbol (_ZSt21ios_base_library_initv) that it never calls. Older
// libstdc++ (Debian 12, Ubuntu 22.04: up to 3.4.30) then makes the dynamic loader refuse the whole
// library. Marking that one Vernaux entry VER_FLG_WEAK turns the hard failure into nothing, and the
// task refuses to weaken an entry that any other symbol depends on.
// RoslynCodeTaskFactory compiles against netstandard2.0, hence the plain-array code.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenUnusedGlibcxxNeed : Task
{
    const ushort VerFlgWeak = 0x2;
    const uint ShtDynsym = 11, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;

    [Required] public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();
    public string VersionName { get; set; } = "GLIBCXX_3.4.32";
    public string AllowedSymbols { get; set; } = "_ZSt21ios_base_library_initv";
    /// <summary>Explicit libstdc++ to test for the version; empty = the one the loader would pick.</summary>
    public string SystemLibStdCxx { get; set; } = "";

    public override bool Execute()
    {
        var libstdcxx = string.IsNullOrEmpty(SystemLibStdCxx) ? FindSystemLibStdCxx() : SystemLibStdCxx;
        if (libstdcxx != null && FileContains(libstdcxx, VersionName))
        {
            Log.LogMessage(MessageImportance.Low, $"{libstdcxx} provides {VersionName}; nothing to weaken.");
            return true;
        }
        foreach (var item in Libraries)
        {
            var path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                var outcome = Weaken(path, VersionName, AllowedSymbols.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
                Log.LogMessage(MessageImportance.Normal, $"{Path.GetFileName(path)}: {outcome}");
            }
            catch (InvalidDataException e)
            {
                Log.LogError($"{path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool FileContains(string path, string text)
    {
        var needle = Encoding.ASCII.GetBytes(text + "\0");
        var bytes = File.ReadAllBytes(path);
        for (int i = 0; i + needle.Length <= bytes.Length; i++)
        {
            int k = 0;
            while (k < needle.Length && bytes[i + k] == needle[k]) k++;
            if (k == needle.Length) return true;
        }
        return false;
    }

    static string FindSystemLibStdCxx()
    {
        try
        {
            var psi = new ProcessStartInfo("/sbin/ldconfig", "-p") { RedirectStandardOutput = true, UseShellExecute = false };
            using (var p = Process.Start(psi))
            {
                var output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                foreach (var line in output.Split('\n'))
                    if (line.TrimStart().StartsWith("libstdc++.so.6 ") && line.Contains("x86-64"))
                        return line.Substring(line.IndexOf("=>", StringComparison.Ordinal) + 2).Trim();
            }
        }
        catch (Exception) { /* no ldconfig: fall through to the usual paths */ }
        return new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
    }

    /// <returns>What was done: "weakened", "already weak" or "no such need".</returns>
    public static string Weaken(string path, string versionName, string[] allowedSymbols)
    {
        var elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        ulong shoff = U64(elf, 0x28);
        int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
        var sections = Enumerable.Range(0, shnum).Select(i => checked((int)shoff + i * shentsize)).ToArray();
        uint Type(int s) => U32(elf, s + 4);
        int Offset(int s) => checked((int)U64(elf, s + 0x18));
        int Size(int s) => checked((int)U64(elf, s + 0x20));
        int Link(int s) => (int)U32(elf, s + 0x28);
        int Info(int s) => (int)U32(elf, s + 0x2C);

        var verneed = sections.FirstOrDefault(s => Type(s) == ShtGnuVerneed);
        if (verneed == 0) return "no such need";
        int strtab = Offset(sections[Link(verneed)]);

        int need = Offset(verneed);
        for (int n = 0; n < Info(verneed); n++)
        {
            int aux = need + (int)U32(elf, need + 8);
            for (int a = 0; a < U16(elf, need + 2); a++)
            {
                if (CString(elf, strtab + (int)U32(elf, aux + 8)) == versionName)
                {
                    ushort flags = U16(elf, aux + 4);
                    if ((flags & VerFlgWeak) != 0) return "already weak";
                    int versionIndex = U16(elf, aux + 6) & 0x7fff;
                    var users = SymbolsUsingVersion(elf, sections, versionIndex, Type, Offset, Size, Link);
                    var unexpected = users.Except(allowedSymbols).ToList();
                    if (unexpected.Count > 0)
                        throw new InvalidDataException($"{versionName} is needed by {string.Join(", ", unexpected)}; refusing to weaken it");
                    elf[aux + 4] = (byte)(flags | VerFlgWeak);
                    var tmp = path + ".weaken.tmp";
                    File.WriteAllBytes(tmp, elf);
                    File.Copy(tmp, path, true);
                    File.Delete(tmp);
                    return "weakened";
                }
                aux += (int)U32(elf, aux + 12);
            }
            need += (int)U32(elf, need + 12);
        }
        return "no such need";
    }

    static List<string> SymbolsUsingVersion(byte[] elf, int[] sections, int versionIndex,
        Func<int, uint> type, Func<int, int> offset, Func<int, int> size, Func<int, int> link)
    {
        var versym = sections.FirstOrDefault(s => type(s) == ShtGnuVersym);
        var dynsym = sections.FirstOrDefault(s => type(s) == ShtDynsym);
        if (versym == 0 || dynsym == 0) throw new InvalidDataException("missing .gnu.version or .dynsym");
        int dynstr = offset(sections[link(dynsym)]);
        var users = new List<string>();
        int count = size(versym) / 2;
        for (int i = 0; i < count; i++)
            if ((U16(elf, offset(versym) + 2 * i) & 0x7fff) == versionIndex)
                users.Add(CString(elf, dynstr + (int)U32(elf, offset(dynsym) + 24 * i)));
        return users;
    }

    static ushort U16(byte[] b, int o) => BitConverter.ToUInt16(b, o);
    static uint U32(byte[] b, int o) => BitConverter.ToUInt32(b, o);
    static ulong U64(byte[] b, int o) => BitConverter.ToUInt64(b, o);
    static string CString(byte[] b, int o) => Encoding.ASCII.GetString(b, o, Array.IndexOf(b, (byte)0, o) - o);
}
