// Link-layer header types. Files and FrameBatch messages carry LINKTYPE_ values; libpcap's live
// handles, pcap_open_dead and its name tables speak DLT_ values. The two differ below 104
// (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux), as libpcap's own linktype_to_dlt and
// dlt_to_linktype map them (not exported). Every other value is the same in both.
#pragma once

namespace podspan {

int dlt_of_linktype(int linktype);
int linktype_of_dlt(int dlt);

}  // namespace podspan
