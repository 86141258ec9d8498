// symbolize.cpp — program counters to frames (function, file, line), the
// process's executable mappings, and pprof's remote symbolization.
//
// Lookup. One libdwfl session (Dwfl) describes the process: it is created
// on first use from /proc/self/maps (dwfl_linux_proc_report) and re-reported
// when a PC falls in a file-backed executable mapping that the session does
// not know (a library dlopen'ed later). For a PC:
//
//   1. dwfl_addrmodule finds the object; dwfl_module_addrdie the compile
//      unit whose ranges hold the PC.
//   2. A per-CU index of function ranges (built on the CU's first lookup)
//      gives the out-of-line DW_TAG_subprogram; a walk down its children
//      gives the lexical blocks and inlined subroutines holding the PC.
//      (libdw's dwarf_getscopes fails on GCC's LTO units, whose namespace
//      DIEs carry DW_AT_abstract_origin, and walks the whole CU each time.)
//      The index includes subprograms nested in other functions' DIEs: in
//      an LTO unit the concrete instance of a lambda's operator() (often a
//      "[clone .lto_priv.N]") sits inside its enclosing function's DIE.
//      If no indexed function holds the PC, the CU's line table still gives
//      its file:line, and the ELF symbol table its name and entry.
//   3. Each DW_TAG_inlined_subroutine up to the first DW_TAG_subprogram is a
//      frame, innermost first. The innermost frame's file:line is the line
//      table's entry for the PC; each outer frame's file:line is the
//      DW_AT_call_file/DW_AT_call_line of the inlined subroutine it contains.
//   4. Names: DW_AT_linkage_name (following DW_AT_abstract_origin and
//      DW_AT_specification) demangled with abi::__cxa_demangle, so the
//      parameter list is kept (`gortd::xorshift_rounds(unsigned long)`);
//      without one (extern "C", main; GCC gives none to functions in
//      anonymous namespaces, nor to lambdas' operator()) DW_AT_name
//      qualified by the enclosing namespaces, classes and functions, found
//      through a per-CU index of their spans: an enclosing function by its
//      demangled linkage name, a closure type as "<lambda>", so a lambda is
//      `ns::f(int)::<lambda>::operator()`. start_line is DW_AT_decl_line,
//      entry the subprogram's entry/low PC.
//   5. Without DWARF for the PC, the ELF symbol table (dynsym/symtab, or the
//      minidebuginfo libdwfl finds) gives the name and entry, no file or
//      line. Outside every object the name is the PC in hex.
//
// Concurrency. libdwfl is not thread-safe, so the session is guarded by
// dwfl_mu_; results are cached per PC in a map guarded by a reader-writer
// lock, so the common case (a PC seen before) is a shared-lock hash probe.
// The map holds a pointer per PC into a set of distinct frame lists: the
// PCs of one source line in one inline chain all have the same frames, and
// a CPU profile's leaf PCs are any instruction of the hot code, so a
// service profiled every minute meets thousands of new PCs per profile for
// hours. With a copy of the (long, demangled) names per PC that cost a few
// KiB each — 2–4 MB of RSS per profile round in bench/soak.sh — where a
// pointer costs a map node.
// These are OS-level locks, which block the M, not just the goroutine. That
// is acceptable because symbolization happens only while writing profiles
// and dumps (handler goroutines, rarely), no critical section calls into the
// scheduler (so a holder is never switched out while holding), and the one
// slow path — a DWARF search, tens of microseconds, the first one loading
// the debug info, milliseconds — runs inside a gort::BlockingSection, which
// hands the P to another M as a system call would, so neither other
// goroutines nor a stop-the-world wait for it. (frames() must therefore not
// be called from inside another BlockingSection.)
//
// Mappings. /proc/self/maps' executable entries, as Go's parseProcSelfMaps
// reads them; build IDs come from the PT_NOTE segments of the loaded
// objects in memory (dl_iterate_phdr), so they are right even when a file
// was replaced on disk after it was mapped.
#include "profilers/symbolize.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "runtime/gort.h"

namespace profilers {

namespace {

std::string hex_address(uint64_t pc) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, pc);
  return buf;
}

// demangle returns the demangled form of a mangled C++ name, or the name
// itself if it is not one.
std::string demangle(const char* name) {
  if (name == nullptr) return {};
  if (name[0] == '_' && name[1] == 'Z') {
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && d != nullptr) {
      std::string out(d);
      std::free(d);
      return out;
    }
    std::free(d);
  }
  return name;
}

Frame unknown_frame(uintptr_t pc) {
  Frame f;
  f.function = hex_address(pc);
  f.system_name = f.function;
  return f;
}

// MapsEntry is one executable line of /proc/self/maps.
struct MapsEntry {
  uint64_t lo = 0, hi = 0, offset = 0;
  std::string file;
};

// read_executable_maps returns /proc/self/maps' entries with 'x' permission,
// parsed as Go's parseProcSelfMaps does: " (deleted)" trimmed, inode-0
// entries without a name (unpopulated huge-page text) skipped.
std::vector<MapsEntry> read_executable_maps() {
  std::vector<MapsEntry> out;
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long lo, hi, off, inode;
    char perm[8] = {};
    int name_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %llu %n", &lo, &hi, perm, &off, &inode, &name_at) <
        5)
      continue;
    if (std::strlen(perm) < 4 || perm[2] != 'x') continue;
    std::string file = name_at > 0 ? line.substr(static_cast<size_t>(name_at)) : std::string();
    constexpr std::string_view kDeleted = " (deleted)";
    if (file.size() >= kDeleted.size() &&
        file.compare(file.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
      file.resize(file.size() - kDeleted.size());
    if (inode == 0 && file.empty()) continue;
    out.push_back({lo, hi, off, std::move(file)});
  }
  return out;
}

// LoadedObject is one ELF object of dl_iterate_phdr: its PT_LOAD ranges in
// memory and its GNU build ID.
struct LoadedObject {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::string build_id;
};

int collect_object(struct dl_phdr_info* info, size_t, void* arg) {
  auto* objs = static_cast<std::vector<LoadedObject>*>(arg);
  LoadedObject o;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD) {
      o.ranges.emplace_back(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
    } else if (ph.p_type == PT_NOTE && o.build_id.empty()) {
      // Notes: namesz, descsz, type, then name and desc, each 4-aligned.
      auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
      const unsigned char* end = p + ph.p_memsz;
      while (p + sizeof(ElfW(Nhdr)) <= end) {
        ElfW(Nhdr) nh;
        std::memcpy(&nh, p, sizeof nh);
        const unsigned char* name = p + sizeof nh;
        const unsigned char* desc = name + ((nh.n_namesz + 3) & ~3u);
        const unsigned char* next = desc + ((nh.n_descsz + 3) & ~3u);
        if (next > end) break;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
          static const char kHex[] = "0123456789abcdef";
          for (uint32_t k = 0; k < nh.n_descsz; k++) {
            o.build_id += kHex[desc[k] >> 4];
            o.build_id += kHex[desc[k] & 15];
          }
          break;
        }
        p = next;
      }
    }
  }
  objs->push_back(std::move(o));
  return 0;
}

std::string executable_path() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string path(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() >= kDeleted.size() &&
      path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
    path.resize(path.size() - kDeleted.size());
  return path;
}

// ---- DWARF helpers (all called with the session lock held) ----

bool is_function_tag(int tag) {
  return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine || tag == DW_TAG_entry_point;
}

// declaration_die follows DW_AT_abstract_origin and DW_AT_specification
// from die to the DIE that declares the function (in its namespace or class).
Dwarf_Die declaration_die(Dwarf_Die die) {
  for (int hops = 0; hops < 8; hops++) {
    Dwarf_Attribute attr;
    Dwarf_Die next;
    if ((dwarf_attr(&die, DW_AT_abstract_origin, &attr) != nullptr ||
         dwarf_attr(&die, DW_AT_specification, &attr) != nullptr) &&
        dwarf_formref_die(&attr, &next) != nullptr) {
      die = next;
    } else {
      break;
    }
  }
  return die;
}

// FunctionRange is one address range of an out-of-line function in a CU.
struct FunctionRange {
  Dwarf_Addr lo = 0, hi = 0;  // [lo, hi), unbiased
  Dwarf_Off die = 0;          // the DW_TAG_subprogram's offset
};

// ScopeSpan is a namespace, class, struct or union DIE of a CU: the DIE
// offsets it spans (itself and its children) and its name.
struct ScopeSpan {
  Dwarf_Off start = 0, end = 0;  // [start, end)
  int parent = -1;               // index of the enclosing span, -1 at the CU's top
  std::string name;              // "" if unnamed
  bool qualified = false;        // name is already fully qualified (a demangled function)
};

using CuKey = std::pair<const Dwarf*, Dwarf_Off>;  // a module's Dwarf, a CU offset

// DwarfIndexes are built once per compile unit, on its first lookup: the
// function ranges (a lookup is a binary search instead of a walk of the
// CU's top level, which in an LTO build holds most of the program) and the
// scope spans (a DIE's enclosing namespaces and classes by offset, instead
// of dwarf_getscopes_die's walk from the CU root). GCC gives functions in
// anonymous namespaces, and templates over their types, no linkage name,
// so many names are built from the spans.
struct DwarfIndexes {
  std::map<CuKey, std::vector<FunctionRange>> functions;
  std::map<CuKey, std::vector<ScopeSpan>> scopes;
};

// is_namespace_or_type says whether a DIE of this tag is a namespace or a
// class-like type: it holds declarations but no code of its own.
bool is_namespace_or_type(int tag) {
  return tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
         tag == DW_TAG_union_type || tag == DW_TAG_module;
}

// is_scope_tag says whether a DIE of this tag may enclose the declaration
// of a named entity: namespaces and classes, and functions and their blocks
// (local classes; a lambda's closure type and its operator()).
bool is_scope_tag(int tag) {
  return is_namespace_or_type(tag) || tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block;
}

// has_call_operator says whether a class DIE declares an operator().
bool has_call_operator(Dwarf_Die* die) {
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return false;
  do {
    if (dwarf_tag(&child) == DW_TAG_subprogram) {
      const char* n = dwarf_diename(&child);
      if (n != nullptr && std::strcmp(n, "operator()") == 0) return true;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// scope_name names a scope DIE for the qualified names of what it encloses:
// a function by its demangled linkage name (already qualified, with its
// parameter list, as the demangler prints an enclosing function) or its
// DW_AT_name; an unnamed class with an operator() "<lambda>"; an anonymous
// namespace "(anonymous namespace)"; a lexical block "".
void scope_name(Dwarf_Die* die, ScopeSpan* span) {
  const int tag = dwarf_tag(die);
  if (tag == DW_TAG_lexical_block) return;
  Dwarf_Attribute attr;
  if (tag == DW_TAG_subprogram) {
    const char* linkage = nullptr;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr)
      linkage = dwarf_formstring(&attr);
    if (linkage != nullptr && linkage[0] == '_' && linkage[1] == 'Z') {
      span->name = demangle(linkage);
      span->qualified = span->name != linkage;
      return;
    }
  }
  // LTO units name their namespaces through DW_AT_abstract_origin.
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr)
    if (const char* n = dwarf_formstring(&attr)) span->name = n;
  if (!span->name.empty()) return;
  if (tag == DW_TAG_namespace) span->name = "(anonymous namespace)";
  if ((tag == DW_TAG_class_type || tag == DW_TAG_structure_type) && has_call_operator(die))
    span->name = "<lambda>";
}

void index_scopes(Dwarf_Die* parent_die, int parent, Dwarf_Off parent_end, std::vector<ScopeSpan>* out) {
  Dwarf_Die child;
  if (dwarf_child(parent_die, &child) != 0) return;
  for (;;) {
    Dwarf_Die next;
    const bool has_next = dwarf_siblingof(&child, &next) == 0;
    if (is_scope_tag(dwarf_tag(&child))) {
      ScopeSpan span;
      span.start = dwarf_dieoffset(&child);
      span.end = has_next ? dwarf_dieoffset(&next) : parent_end;
      span.parent = parent;
      scope_name(&child, &span);
      out->push_back(std::move(span));
      index_scopes(&child, static_cast<int>(out->size()) - 1, out->back().end, out);
    }
    if (!has_next) break;
    child = next;
  }
}

// qualified_name returns DW_AT_name of die's declaration prefixed with its
// enclosing namespaces and classes ("a::B::f"); "" if the DIE has no name.
std::string qualified_name(Dwarf_Die* die, DwarfIndexes* ix) {
  Dwarf_Die decl = declaration_die(*die);
  const char* base = dwarf_diename(&decl);
  if (base == nullptr) return {};
  std::string name = base;
  Dwarf_Die cu;
  if (dwarf_diecu(&decl, &cu, nullptr, nullptr) == nullptr) return name;
  auto [slot, fresh] = ix->scopes.try_emplace(CuKey{dwarf_cu_getdwarf(decl.cu), dwarf_dieoffset(&cu)});
  std::vector<ScopeSpan>& spans = slot->second;
  if (fresh) index_scopes(&cu, -1, ~Dwarf_Off{0}, &spans);  // pre-order: sorted by start
  const Dwarf_Off off = dwarf_dieoffset(&decl);
  auto it = std::lower_bound(spans.begin(), spans.end(), off,
                             [](const ScopeSpan& s, Dwarf_Off o) { return s.start < o; });
  int i = static_cast<int>(it - spans.begin()) - 1;  // the last span opening before decl
  while (i >= 0 && spans[static_cast<size_t>(i)].end <= off) i = spans[static_cast<size_t>(i)].parent;
  for (; i >= 0; i = spans[static_cast<size_t>(i)].parent) {
    const ScopeSpan& s = spans[static_cast<size_t>(i)];
    if (!s.name.empty()) name = s.name + "::" + name;
    if (s.qualified) break;
  }
  return name;
}

// name_function fills f's names and start line from a function DIE.
void name_function(Dwarf_Die* die, DwarfIndexes* ix, Frame* f) {
  Dwarf_Attribute attr;
  const char* linkage = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr)
    linkage = dwarf_formstring(&attr);
  if (linkage != nullptr) {
    f->function = demangle(linkage);
    f->system_name = linkage;
  } else {
    f->function = qualified_name(die, ix);
    f->system_name = f->function;
  }
  int line = 0;
  if (dwarf_decl_line(die, &line) == 0) f->start_line = line;
}

// call_site returns the file of an inlined subroutine's DW_AT_call_file in
// the CU's file table and its DW_AT_call_line.
std::pair<std::string, int64_t> call_site(Dwarf_Die* cu, Dwarf_Die* inlined) {
  std::pair<std::string, int64_t> out;
  Dwarf_Attribute attr;
  Dwarf_Word v = 0;
  if (dwarf_attr(inlined, DW_AT_call_line, &attr) != nullptr && dwarf_formudata(&attr, &v) == 0)
    out.second = static_cast<int64_t>(v);
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (dwarf_attr(inlined, DW_AT_call_file, &attr) != nullptr && dwarf_formudata(&attr, &v) == 0 &&
      dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && v < nfiles) {
    if (const char* s = dwarf_filesrc(files, v, nullptr, nullptr)) out.first = s;
  }
  return out;
}

// low_address returns the entry of a subprogram DIE (DW_AT_entry_pc or
// DW_AT_low_pc, else the start of its first range), unbiased; 0 if none.
Dwarf_Addr low_address(Dwarf_Die* die) {
  Dwarf_Addr a = 0;
  if (dwarf_entrypc(die, &a) == 0) return a;
  Dwarf_Addr base = 0, start = 0, end = 0;
  if (dwarf_ranges(die, 0, &base, &start, &end) > 0) return start;
  return 0;
}

// find_scopes appends to chain the DIEs under parent whose code ranges
// hold pc (subprograms, inlined subroutines, lexical blocks), outermost
// first, looking through namespaces and classes; returns whether it found
// any.
bool find_scopes(Dwarf_Die* parent, Dwarf_Addr pc, std::vector<Dwarf_Die>* chain) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return false;
  do {
    int tag = dwarf_tag(&child);
    if (is_namespace_or_type(tag)) {
      if (find_scopes(&child, pc, chain)) return true;
      continue;
    }
    switch (tag) {
      case DW_TAG_subprogram:
      case DW_TAG_inlined_subroutine:
      case DW_TAG_entry_point:
      case DW_TAG_lexical_block:
      case DW_TAG_try_block:
      case DW_TAG_catch_block:
        if (dwarf_haspc(&child, pc) == 1) {
          chain->push_back(child);
          find_scopes(&child, pc, chain);
          return true;
        }
        break;
      default:
        break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// index_functions appends the ranges of the out-of-line functions under
// parent: top-level ones, those in namespaces and classes, and those nested
// in other functions' DIEs — GCC puts the concrete instance of a local
// class's or lambda's member function (DW_AT_abstract_origin, its own
// ranges; in LTO often a "[clone .lto_priv.N]") inside the DIE of the
// enclosing function, which may itself have no code.
void index_functions(Dwarf_Die* parent, std::vector<FunctionRange>* out) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return;
  do {
    int tag = dwarf_tag(&child);
    if (is_namespace_or_type(tag) || tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine) {
      index_functions(&child, out);
      continue;
    }
    switch (tag) {
      case DW_TAG_subprogram:
      case DW_TAG_entry_point: {
        Dwarf_Addr base = 0, lo = 0, hi = 0;
        ptrdiff_t at = 0;
        while ((at = dwarf_ranges(&child, at, &base, &lo, &hi)) > 0) {
          if (lo < hi) out->push_back({lo, hi, dwarf_dieoffset(&child)});
        }
        index_functions(&child, out);
        break;
      }
      default:
        break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

// line_frame returns a frame holding only the line table's file:line of pc
// (the name and entry are left for the ELF symbol table).
Frame line_frame(Dwfl_Module* mod, uintptr_t pc) {
  Frame f;
  if (Dwfl_Line* l = dwfl_module_getsrc(mod, pc)) {
    int lineno = 0;
    if (const char* s = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr)) f.file = s;
    f.line = lineno;
  }
  return f;
}

// dwarf_frames returns the frames at pc from the module's DWARF, innermost
// first; empty if the module has no DWARF covering pc.
std::vector<Frame> dwarf_frames(Dwfl_Module* mod, uintptr_t pc, DwarfIndexes* ix) {
  std::vector<Frame> out;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias);
  if (cu == nullptr) return out;
  Dwarf* dw = dwfl_module_getdwarf(mod, &bias);
  if (dw == nullptr) return out;
  const Dwarf_Addr addr = pc - bias;
  auto [slot, fresh] = ix->functions.try_emplace(CuKey{dw, dwarf_dieoffset(cu)});
  std::vector<FunctionRange>& ranges = slot->second;
  if (fresh) {
    index_functions(cu, &ranges);
    std::sort(ranges.begin(), ranges.end(),
              [](const FunctionRange& a, const FunctionRange& b) { return a.lo < b.lo; });
  }
  auto it = std::upper_bound(ranges.begin(), ranges.end(), addr,
                             [](Dwarf_Addr a, const FunctionRange& r) { return a < r.lo; });
  Dwarf_Die function;
  if (it == ranges.begin() || addr >= std::prev(it)->hi ||
      dwarf_offdie(dw, std::prev(it)->die, &function) == nullptr) {
    // The CU covers pc but no function DIE does: the line table still does.
    Frame f = line_frame(mod, pc);
    if (!f.file.empty() || f.line != 0) out.push_back(std::move(f));
    return out;
  }
  std::vector<Dwarf_Die> chain{function};
  find_scopes(&function, addr, &chain);

  Frame top = line_frame(mod, pc);
  std::string file = std::move(top.file);
  int64_t line = top.line;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    Dwarf_Die* die = &*it;
    int tag = dwarf_tag(die);
    if (!is_function_tag(tag)) continue;
    Frame f;
    name_function(die, ix, &f);
    f.file = file;
    f.line = line;
    out.push_back(std::move(f));
    if (tag != DW_TAG_inlined_subroutine) {
      Dwarf_Addr low = low_address(die);
      if (low != 0) {
        uintptr_t entry = static_cast<uintptr_t>(low + bias);
        for (Frame& g : out) g.entry = entry;
      }
      break;
    }
    // The next (outer) frame is at this inlined call's call site.
    std::tie(file, line) = call_site(cu, die);
  }
  return out;
}

// symtab_frame returns the ELF symbol containing pc as a frame (name and
// entry only); false if there is none.
bool symtab_frame(Dwfl_Module* mod, uintptr_t pc, Frame* f) {
  GElf_Off off = 0;
  GElf_Sym sym;
  const char* name = dwfl_module_addrinfo(mod, pc, &off, &sym, nullptr, nullptr, nullptr);
  if (name == nullptr || name[0] == '\0') return false;
  f->function = demangle(name);
  f->system_name = name;
  f->entry = pc - off;
  return true;
}

const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = nullptr,
};

}  // namespace

// Resolver holds the libdwfl session and the per-PC cache. It is a
// namespace-level type (Symbolizer::Impl derives from it) so that
// symbol_lookup can reach the uncached path.
class Resolver {
 public:
  ~Resolver() {
    if (dwfl_ != nullptr) dwfl_end(dwfl_);
  }

  // frames returns the cached frames of pc, resolving them on a miss.
  // Takes cache_mu_ (shared) and on a miss dwfl_mu_, inside a
  // BlockingSection.
  const std::vector<Frame>& frames(uintptr_t pc) {
    {
      std::shared_lock<std::shared_mutex> r(cache_mu_);
      auto it = cache_.find(pc);
      if (it != cache_.end()) return *it->second;
    }
    gort::BlockingSection blocking;
    std::lock_guard<std::mutex> s(dwfl_mu_);
    {
      // Another thread may have resolved pc while this one waited.
      std::shared_lock<std::shared_mutex> r(cache_mu_);
      auto it = cache_.find(pc);
      if (it != cache_.end()) return *it->second;
    }
    std::vector<Frame> fs = resolve_locked(pc);
    std::unique_lock<std::shared_mutex> w(cache_mu_);
    const std::vector<Frame>* shared = &*distinct_.insert(std::move(fs)).first;
    return *cache_.emplace(pc, shared).first->second;
  }

  // function_name returns the innermost function at pc, as Go's
  // runtime.FuncForPC names it, or "" if pc is in no known function. Uses
  // the cache but never grows it (symbol_lookup takes addresses from the
  // network). Takes the same locks as frames.
  std::string function_name(uintptr_t pc) {
    {
      std::shared_lock<std::shared_mutex> r(cache_mu_);
      auto it = cache_.find(pc);
      if (it != cache_.end()) return known(it->second->front()) ? it->second->front().function : std::string();
    }
    gort::BlockingSection blocking;
    std::lock_guard<std::mutex> s(dwfl_mu_);
    std::vector<Frame> fs = resolve_locked(pc);
    return known(fs.front()) ? fs.front().function : std::string();
  }

 private:
  static bool known(const Frame& f) {
    return f.entry != 0 || !f.file.empty() || f.function.rfind("0x", 0) != 0;
  }

  // report_locked (re)describes the process to the session from
  // /proc/self/maps. Requires dwfl_mu_.
  void report_locked() {
    if (dwfl_ == nullptr) dwfl_ = dwfl_begin(&kCallbacks);
    if (dwfl_ == nullptr) return;
    dwfl_report_begin(dwfl_);
    dwfl_linux_proc_report(dwfl_, getpid());
    dwfl_report_end(dwfl_, nullptr, nullptr);
    indexes_ = {};  // a module that is gone takes its Dwarf with it
  }

  // module_locked returns the session's module containing pc, reporting
  // the process again if pc is in an executable file mapping the session
  // does not know. Requires dwfl_mu_.
  Dwfl_Module* module_locked(uintptr_t pc) {
    if (dwfl_ == nullptr) report_locked();
    if (dwfl_ == nullptr) return nullptr;
    if (Dwfl_Module* m = dwfl_addrmodule(dwfl_, pc)) return m;
    bool mapped = false;
    for (const MapsEntry& e : read_executable_maps())
      mapped = mapped || (pc >= e.lo && pc < e.hi && !e.file.empty() && e.file[0] == '/');
    if (!mapped) return nullptr;
    report_locked();
    return dwfl_addrmodule(dwfl_, pc);
  }

  // resolve_locked looks pc up without the cache. Requires dwfl_mu_.
  std::vector<Frame> resolve_locked(uintptr_t pc) {
    Dwfl_Module* mod = module_locked(pc);
    if (mod == nullptr) return {unknown_frame(pc)};
    std::vector<Frame> fs = dwarf_frames(mod, pc, &indexes_);
    Frame sym;
    bool have_sym = false;
    if (fs.empty() || fs.back().function.empty() || fs.back().entry == 0)
      have_sym = symtab_frame(mod, pc, &sym);
    if (fs.empty()) return {have_sym ? sym : unknown_frame(pc)};
    if (have_sym && fs.back().function.empty()) {
      fs.back().function = sym.function;
      fs.back().system_name = sym.system_name;
    }
    for (Frame& f : fs) {
      if (f.function.empty()) f.function = f.system_name = hex_address(pc);
    }
    if (have_sym && fs.back().entry == 0)
      for (Frame& f : fs) f.entry = sym.entry;
    return fs;
  }

  std::mutex dwfl_mu_;
  Dwfl* dwfl_ = nullptr;  // guarded by dwfl_mu_; created on first lookup
  DwarfIndexes indexes_;  // guarded by dwfl_mu_

  // FramesHash and FramesEqual compare whole frame lists, every field.
  struct FramesHash {
    size_t operator()(const std::vector<Frame>& fs) const noexcept {
      std::hash<std::string> h;
      size_t x = fs.size();
      for (const Frame& f : fs)
        for (size_t v : {h(f.function), h(f.system_name), h(f.file), static_cast<size_t>(f.line),
                         static_cast<size_t>(f.start_line), static_cast<size_t>(f.entry)})
          x = x * 1000003 ^ v;
      return x;
    }
  };
  struct FramesEqual {
    bool operator()(const std::vector<Frame>& a, const std::vector<Frame>& b) const noexcept {
      return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Frame& x, const Frame& y) {
        return x.function == y.function && x.system_name == y.system_name && x.file == y.file && x.line == y.line &&
               x.start_line == y.start_line && x.entry == y.entry;
      });
    }
  };

  std::shared_mutex cache_mu_;
  // Both guarded by cache_mu_. Nothing is ever erased, and both containers
  // keep their nodes in place on rehash, so the references frames() hands
  // out stay valid: distinct_ holds each distinct frame list once, cache_
  // maps a PC to its list in distinct_.
  std::unordered_set<std::vector<Frame>, FramesHash, FramesEqual> distinct_;
  std::unordered_map<uintptr_t, const std::vector<Frame>*> cache_;
};

namespace {
Resolver* g_resolver = nullptr;  // set once by the Symbolizer constructor (under global()'s static init)
}  // namespace

struct Symbolizer::Impl : Resolver {};

Symbolizer::Symbolizer() : impl_(new Impl) {
  g_resolver = impl_;
}

Symbolizer::~Symbolizer() {
  delete impl_;
}

Symbolizer& Symbolizer::global() {
  // Never destroyed: frames() hands out references for the process's life,
  // and threads may still symbolize while static destructors run.
  static Symbolizer* s = new Symbolizer;
  return *s;
}

const std::vector<Frame>& Symbolizer::frames(uintptr_t pc) {
  return impl_->frames(pc);
}

std::vector<Mapping> Symbolizer::mappings() {
  std::vector<LoadedObject> objs;
  dl_iterate_phdr(collect_object, &objs);
  std::vector<Mapping> out;
  for (const MapsEntry& e : read_executable_maps()) {
    Mapping m{e.lo, e.hi, e.offset, e.file, {}};
    for (const LoadedObject& o : objs) {
      for (const auto& [lo, hi] : o.ranges) {
        if (e.lo >= (lo & ~uint64_t{4095}) && e.lo < hi) m.build_id = o.build_id;
      }
      if (!m.build_id.empty()) break;
    }
    out.push_back(std::move(m));
  }
  // pprof takes the first mapping for the main binary.
  std::string exe = executable_path();
  std::stable_partition(out.begin(), out.end(),
                        [&](const Mapping& m) { return !exe.empty() && m.file == exe; });
  return out;
}

namespace {

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return 99;
}

// underscores_ok is Go's strconv.underscoreOK: '_' only between digits or
// between a base prefix and a digit.
bool underscores_ok(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && std::strchr("bBoOxX", s[1]) != nullptr) {
    i = 2;
    saw = '0';
    hex = (s[1] | 0x20) == 'x';
  }
  for (; i < s.size(); i++) {
    char c = s[i];
    char lc = static_cast<char>(c | 0x20);
    if ((c >= '0' && c <= '9') || (hex && lc >= 'a' && lc <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// parse_address is Go's strconv.ParseUint(s, 0, 64): a 0x/0o/0b or leading-0
// octal prefix picks the base, underscores may separate digits. Returns 0
// for anything that is not such a number (Go's handler ignores the error;
// on overflow Go returns the maximum, which names no function either).
uint64_t parse_address(std::string_view s) {
  if (s.empty()) return 0;
  std::string_view digits = s;
  unsigned base = 10;
  if (s[0] == '0') {
    char p = s.size() >= 3 ? static_cast<char>(s[1] | 0x20) : '\0';
    if (p == 'b' || p == 'o' || p == 'x') {
      base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
      digits = s.substr(2);
    } else {
      base = 8;
      digits = s.substr(1);
    }
  }
  uint64_t v = 0;
  bool underscores = false;
  for (char c : digits) {
    if (c == '_') {
      underscores = true;
      continue;
    }
    unsigned d = static_cast<unsigned>(digit_value(c));
    if (d >= base) return 0;
    if (v > (UINT64_MAX - d) / base) return 0;
    v = v * base + d;
  }
  if (underscores && !underscores_ok(s)) return 0;
  return v;
}

}  // namespace

std::vector<uint64_t> symbol_addresses(std::string_view body) {
  std::vector<uint64_t> pcs;
  for (;;) {
    size_t plus = body.find('+');
    if (uint64_t pc = parse_address(body.substr(0, plus)); pc != 0) pcs.push_back(pc);
    if (plus == std::string_view::npos) break;
    body.remove_prefix(plus + 1);
  }
  return pcs;
}

std::string symbol_lookup(std::string_view body) {
  std::string out = "num_symbols: 1\n";
  std::vector<uint64_t> pcs = symbol_addresses(body);
  if (pcs.empty()) return out;
  Symbolizer::global();  // creates g_resolver
  // An address outside every executable mapping names nothing: skip it
  // here, with /proc/self/maps read once per request, rather than let the
  // resolver read it again for each such address (a 1 MiB body holds
  // 500,000 of them).
  const std::vector<MapsEntry> maps = read_executable_maps();
  auto mapped = [&maps](uint64_t pc) {
    return std::any_of(maps.begin(), maps.end(), [pc](const MapsEntry& e) { return pc >= e.lo && pc < e.hi; });
  };
  for (uint64_t pc : pcs) {
    if (!mapped(pc)) continue;
    std::string name = g_resolver->function_name(static_cast<uintptr_t>(pc));
    if (name.empty()) continue;
    out += hex_address(pc);
    out += ' ';
    out += name;
    out += '\n';
  }
  return out;
}

}  // namespace profilers
